"""`reminder-gateway lint-templates`: the built-in pack against every preset's content rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def lint(
    tmp_path: Path, *args: str, presets: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PRESETS_"))}
    env["GATEWAY_DATA_DIR"] = str(tmp_path)
    if presets is not None:
        env["PRESETS_DIR"] = str(presets)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "lint-templates", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_builtin_pack_passes_every_builtin_preset(tmp_path: Path) -> None:
    result = lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "against 4 preset(s): no problems" in result.stdout


def test_a_preset_the_pack_does_not_satisfy_fails_with_the_reasons(tmp_path: Path) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    strict = {
        "name": "STRICT",
        "base": "US-RegF",
        "content": {
            "required": {"letter": {"value": ["collector_identity", "sms_signature"], "tag": "P"}}
        },
    }
    (presets / "strict.yaml").write_text(yaml.safe_dump(strict), encoding="utf-8")
    result = lint(tmp_path, "--preset", "STRICT", presets=presets)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("letter/en/first_notice under STRICT (first_party; ")
        and "the letter lacks the sms_signature block" in line
        for line in lines
    ), result.stdout
    assert "problem(s) in" in result.stderr
    unknown = lint(tmp_path, "--preset", "NOPE")
    assert unknown.returncode == 2 and "unknown preset 'NOPE'" in unknown.stderr
