"""The trained reply model kept on disk between processes, so a process that starts (an API
process, a receiver, a worker restarted by the supervisor) loads it in milliseconds instead of
training it again for seconds while it should be serving.

The file is named by a digest of everything the model depends on: every file of this package
(the code that reads a reply, the rules, the corpus, the parameters and thresholds) and the
versions of Python and of the libraries that fit it. A change to any of them names another file,
so a model trained from other rules or another corpus is never loaded. Training stays
deterministic (`model.train`): a process that cannot read or write the directory trains in memory
and reads replies exactly as one that loaded the file.

The file is a pickle, which runs code when loaded: it is written only by this process's user,
readable by no one else (mode 600, in a directory of mode 700), and a file another user could
have written is not loaded.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import structlog

from gateway.replies.model import Model

PACKAGE = Path(__file__).resolve().parent
LIBRARIES = ("scikit-learn", "scipy", "numpy")
log = structlog.get_logger()


def key() -> str:
    """The digest of what the trained model depends on."""
    digest = hashlib.sha256(sys.version.encode())
    for library in LIBRARIES:
        digest.update(f"{library}={metadata.version(library)}".encode())
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".yaml", ".txt"}:
            digest.update(str(path.relative_to(PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def path_in(directory: Path) -> Path:
    return directory / f"reply-model-{key()}.pickle"


def load_or_train(directory: Path | None, train: Callable[[], Model]) -> Model:
    """The model stored in `directory` for this code and corpus, else `train()`ed and stored."""
    if directory is None:
        return train()
    path = path_in(directory)
    model = _load(path)
    if model is not None:
        return model
    model = train()
    _store(path, model)
    return model


def _load(path: Path) -> Model | None:
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                log.warning("reply_model_file_not_trusted", path=str(path))
                return None
            model = pickle.load(file)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or corrupt file: train again, and replace it
        log.warning("reply_model_file_unreadable", path=str(path), error=type(exc).__name__)
        return None
    return model if isinstance(model, Model) else None


def _store(path: Path, model: Model) -> None:
    """Write the file whole or not at all: a temporary file renamed over the name, so a process
    that loads it meanwhile finds either nothing or the complete model."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".reply-model-")
        try:
            with os.fdopen(fd, "wb") as file:
                pickle.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only disk: the next process trains too
        log.warning("reply_model_not_stored", path=str(path), error=type(exc).__name__)
