"""A local SMSC for the SMPP benchmark: the test suite's SMPP 3.4 simulator on a fixed port.

`python -m bench.smscserver --port P` accepts binds from system_id "bench" / password "bench",
answers every submit_sm with a message id, and sends no receipts.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from tests.smsc import Smsc


async def main(port: int) -> None:
    smsc = await Smsc(system_id="bench", password="bench").start(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await smsc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
