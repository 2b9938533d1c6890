"""Atomic file writes: a reader sees the old file or the whole new one, never half of it.

A write that fills the disk raises :class:`DiskFullError` naming the file; what was there before
stays whole.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class DiskFullError(OSError):
    """No space was left on the device while writing ``path`` (``errno.ENOSPC``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        super().__init__(
            errno.ENOSPC,
            f"no space left on the device while writing {self.path}; nothing half-written was kept and every "
            "earlier complete file is whole. Free space there, or point paths.cache_dir (LATENTGRAPH_CACHE) or "
            "hydra.run.dir to another disk, and rerun",
        )

    def __str__(self) -> str:
        return self.strerror


def disk_full_error(error: BaseException, path: str | os.PathLike) -> DiskFullError | None:
    """``error`` as a :class:`DiskFullError` naming ``path`` when it is a full disk, else ``None``."""
    if isinstance(error, DiskFullError):
        return error
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DiskFullError(path)
    return None


@contextmanager
def full_disk_named(path: str | os.PathLike) -> Iterator[None]:
    """Inside it, an ``OSError`` that is a full disk is raised as a :class:`DiskFullError` naming ``path``."""
    try:
        yield
    except OSError as error:
        full = disk_full_error(error, path)
        if full is None:
            raise
        raise full from error


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it into place, else delete it.

    For writers that want a file name (``trainer.save_checkpoint``) rather than bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; a plain open() would honour the umask
    os.close(fd)
    try:
        with full_disk_named(path):
            yield Path(tmp)
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_copy(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Copy ``source`` to ``path`` through a temporary beside it (a checkpoint copied into a run)."""
    with atomic_target(path) as tmp:
        shutil.copyfile(source, tmp)
    return Path(path)


def current_umask() -> int:
    """The process umask: from ``/proc`` on Linux, else by setting it and putting it back (no getter exists)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_directory_mode(path: str | os.PathLike) -> None:
    """Give a directory made by ``mkdtemp`` (0700) the mode ``mkdir`` would have given it."""
    os.chmod(path, 0o777 & ~current_umask())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place."""
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any | None:
    """The JSON in ``path``, or ``None`` when there is no such file (a stage that did not run)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
