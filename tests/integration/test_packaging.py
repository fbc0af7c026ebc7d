"""A non-editable install finds the built-in templates and the migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_wheel_install_carries_templates_and_migrations(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    [wheel] = list(wheels.glob("reminder_gateway-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    probe = (
        "import gateway, templates\n"
        "from gateway.store.templates import load_pack\n"
        "from gateway.store.migrate import MIGRATIONS\n"
        f"assert gateway.__file__.startswith({str(target)!r}), gateway.__file__\n"
        "pack = load_pack()\n"
        "assert {(t['channel'], t['locale']) for t in pack if t['key'] == 'first_notice'} == "
        "{(c, l) for c in ('sms', 'email', 'letter') for l in ('en', 'zh-CN')}\n"
        "assert (MIGRATIONS / 'env.py').exists() and list((MIGRATIONS / 'versions').glob('0001_*.py'))\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
