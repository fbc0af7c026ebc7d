from channels.circuit import CircuitBreaker


class Tick:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_probes_once_after_reset() -> None:
    tick = Tick()
    cb = CircuitBreaker(failure_threshold=3, reset_after_s=30, clock=tick)
    for _ in range(2):
        cb.failure()
    assert cb.allow() and cb.state == "closed"
    cb.failure()
    assert cb.state == "open" and not cb.allow()
    assert cb.retry_in() == 30
    tick.now = 29.9
    assert not cb.allow()
    tick.now = 30
    assert cb.allow()  # the probe
    assert not cb.allow()  # only one probe at a time
    cb.failure()
    assert cb.state == "open" and cb.retry_in() == 30
    tick.now = 60
    assert cb.allow()
    cb.success()
    assert cb.state == "closed" and cb.allow() and cb.allow()


def test_a_success_resets_the_failure_count() -> None:
    cb = CircuitBreaker(failure_threshold=2, clock=Tick())
    cb.failure()
    cb.success()
    cb.failure()
    assert cb.state == "closed"
