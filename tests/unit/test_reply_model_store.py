"""The trained reply model kept on disk between processes (`replies.model_store`): a second
process loads what the first trained, a damaged or foreign file is trained over, a directory that
cannot be written costs only the training, and the file's name follows the code and corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.replies import model_store
from gateway.replies.categories import Category
from gateway.replies.model import Model, train

C = Category
TEXTS = ["stop", "stop texting me", "wrong number", "not my phone", "paid it", "i paid yesterday"]
LABELS = [{C.OPT_OUT_CHANNEL}, {C.OPT_OUT_CHANNEL}, {C.WRONG_PARTY}, {C.WRONG_PARTY}] + [
    {C.ALREADY_PAID}
] * 2


class Trainer:
    """Counts the trainings asked for."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Model:
        self.calls += 1
        return train(TEXTS, LABELS)


def test_a_second_process_loads_the_model_the_first_one_trained(tmp_path: Path) -> None:
    first, second = Trainer(), Trainer()
    trained = model_store.load_or_train(tmp_path / "cache", first)
    loaded = model_store.load_or_train(tmp_path / "cache", second)
    assert (first.calls, second.calls) == (1, 0)
    assert loaded is not trained
    assert loaded.probabilities("stop pls") == trained.probabilities("stop pls")
    path = model_store.path_in(tmp_path / "cache")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05K"])
def test_a_damaged_file_is_trained_over_and_replaced(tmp_path: Path, damage: bytes) -> None:
    model_store.load_or_train(tmp_path, Trainer())
    path = model_store.path_in(tmp_path)
    path.write_bytes(damage)
    again = Trainer()
    model = model_store.load_or_train(tmp_path, again)
    assert again.calls == 1 and isinstance(model, Model)
    assert model_store.load_or_train(tmp_path, again) is not model and again.calls == 1


def test_a_file_others_could_have_written_is_not_loaded(tmp_path: Path) -> None:
    model_store.load_or_train(tmp_path, Trainer())
    os.chmod(model_store.path_in(tmp_path), 0o666)
    again = Trainer()
    model_store.load_or_train(tmp_path, again)
    assert again.calls == 1


def test_a_directory_that_cannot_be_written_only_costs_the_training(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-directory"
    blocked.write_text("")
    trainer = Trainer()
    model = model_store.load_or_train(blocked / "cache", trainer)
    assert trainer.calls == 1 and isinstance(model, Model)
    assert model_store.load_or_train(None, trainer) is not model and trainer.calls == 2


def test_the_file_is_named_after_the_code_and_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "replies"
    (package / "keywords").mkdir(parents=True)
    (package / "classifier.py").write_text("A = 1\n")
    (package / "keywords" / "en.yaml").write_text("stop: [stop]\n")
    monkeypatch.setattr(model_store, "PACKAGE", package)
    before = model_store.key()
    (package / "keywords" / "en.yaml").write_text("stop: [stop, quit]\n")
    assert model_store.key() != before
    (package / "keywords" / "en.yaml").write_text("stop: [stop]\n")
    assert model_store.key() == before
    (package / "notes.md").write_text("not read")  # only what the model depends on
    assert model_store.key() == before
