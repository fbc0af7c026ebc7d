"""Cadence files: the built-ins load and name real templates; an operator's file replaces a
built-in of the same name; a bad file is refused naming the file and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.store.templates import pack_purposes
from scheduler.cadence import CadenceError, duration, format_duration, load_cadences

STEP = "  - {name: a, dpd: 1, channel: sms, template: first_notice}\n"


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_the_built_in_cadences_are_the_defaults_of_compliance_6_7() -> None:
    cadences = load_cadences(templates=pack_purposes())
    card = cadences["first-party-card"]
    assert [(s.dpd, s.channel) for s in card.steps] == [
        (1, "sms"),
        (3, "email"),
        (7, "sms"),
        (10, "letter"),
        (14, "email"),
        (21, "sms"),
        (30, "letter"),
        (35, "email"),
        (45, "sms"),
        (60, "letter"),
    ]
    third = cadences["us-third-party"]
    assert third.counts_from == "start"
    assert (third.steps[0].after_start, third.steps[0].purpose) == (
        timedelta(0),
        "validation_notice",
    )
    assert [s.after_start for s in third.steps] == [timedelta(days=d) for d in (0, 3, 10, 17, 30)]


def test_an_operator_cadence_replaces_the_built_in_of_its_name(tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", "mine.yaml", "name: first-party-card\nsteps:\n" + STEP)
    cadences = load_cadences(folder, templates=pack_purposes())
    assert len(cadences["first-party-card"].steps) == 1
    assert "us-third-party" in cadences


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("name: x\nsteps: []\n", "steps", "at least 1"),
        (
            "name: x\nsteps:\n  - {name: a, dpd: 1, channel: fax, template: t}\n",
            "steps[0].channel",
            "sms",
        ),
        (
            "name: x\nsteps:\n  - {name: a, channel: sms, template: first_notice}\n",
            "steps[0]",
            "exactly one of dpd",
        ),
        (
            "name: x\nsteps:\n  - {name: a, after_start: 3 days, channel: sms, template: first_notice}\n",
            "steps[0].after_start",
            "duration",
        ),
        (
            "name: x\nsteps:\n  - {name: a, dpd: 1, channel: sms, template: frist_notice}\n",
            "steps[0].template",
            "known: arrangement_offer",
        ),
        (
            "name: x\nsteps:\n  - {name: a, dpd: 1, channel: sms, template: first_notice, "
            "purpose: validation_notice}\n",
            "steps[0].purpose",
            "'reminder'",
        ),
        (
            "name: x\nsteps:\n"
            + STEP
            + "  - {name: b, dpd: 0, channel: sms, template: first_notice}\n",
            "",
            "steps[1]: comes before an earlier step",
        ),
        (
            "name: x\nsteps:\n"
            + STEP
            + "  - {name: a, dpd: 2, channel: sms, template: first_notice}\n",
            "",
            "steps[1].name",
        ),
        (
            "name: x\nsteps:\n  - {name: a, dpd: 1, channel: sms, template: first_notice, "
            "fallback: {channel: email, template: nope}}\n",
            "steps[0].fallback.template",
            "nope",
        ),
        (
            "name: x\nsteps:\n  - {name: a, dpd: 1, channel: sms, template: first_notice, "
            "unless: replied}\n",
            "steps[0].unless",
            "replied_since_previous",
        ),
        (
            "name: x\nsteps:\n  - {name: a, dpd: 1, channel: sms, template: first_notice, "
            "if: {previous_not_delivered_within: soon}}\n",
            "steps[0].if.previous_not_delivered_within",
            "duration",
        ),
        ("- just a list\n", "", "must be a mapping"),
        ("name: [unclosed\n", "", "cannot read"),
    ],
)
def test_a_bad_cadence_file_names_the_file_and_the_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    folder = _write(tmp_path / "c", "bad.yaml", text)
    with pytest.raises(CadenceError) as caught:
        load_cadences(folder, templates=pack_purposes())
    assert caught.value.file == "bad.yaml"
    assert caught.value.path == field, str(caught.value)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_two_operator_files_may_not_define_one_cadence(tmp_path: Path) -> None:
    folder = _write(tmp_path / "c", "a.yaml", "name: x\nsteps:\n" + STEP)
    _write(folder, "b.yaml", "name: x\nsteps:\n" + STEP)
    with pytest.raises(CadenceError, match="b.yaml: name: cadence 'x' is also defined in a.yaml"):
        load_cadences(folder, templates=pack_purposes())


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CadenceError, match="does not exist"):
        load_cadences(tmp_path / "nowhere")


@pytest.mark.parametrize("text", ["0d", "3d", "24h", "90m", "1500m"])
def test_durations_read_back_as_written_or_shorter(text: str) -> None:
    assert duration(format_duration(duration(text))) == duration(text)
