"""The stage cache's store: content-addressed stage artifacts shared by the runs of a sweep.

Each entry lives in ``<cache_dir>/stages/<stage>/<key>/``, where ``key`` hashes the
config subtree the stage depends on. An entry is written into a temporary directory beside it, gets a
``COMPLETE`` marker last, and is renamed into place in one step. A reader trusts only entries
with the marker, so a killed writer leaves nothing that a later run would use.

Jobs that need the same key compute it once: :meth:`StageCache.claim` holds a lock per key
(``<stage>/<key>.lock``, an OS file lock that dies with its holder, so a killed job blocks no
one), and a job that finds the key being computed says which host and process hold it, waits up
to the cache's lock timeout and then reuses the entry. Should two writers still meet (a cache on
a file system without locks), the second rename finds the entry there and its own copy is
dropped. Temporaries a killed writer left behind (``.<name>.<random>.tmp``) are removed once
they are a day old (:func:`remove_stale_temporaries`, called when a run opens the cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from latentgraph.atomic import atomic_write_text, current_umask, full_disk_named, plain_directory_mode

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"
STALE_TEMPORARY_AGE_S = 86_400.0  # a writer's temporary this old belongs to a job that died


class LockTimeoutError(RuntimeError):
    """A job waited longer than the lock timeout for another job to finish computing a key."""


def _holder_record(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder.json")


def _holder(lock_path: Path) -> str:
    """Who holds ``lock_path``, as its holder recorded it ("unknown": it has not written it yet)."""
    try:
        held = json.loads(_holder_record(lock_path).read_text())
        return f"host {held['host']}, pid {held['pid']}, since {held['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown job (it has not recorded itself yet)"


@contextmanager
def held_lock(lock_path: str | Path, what: str, timeout_s: float | None) -> Iterator[None]:
    """Hold the OS file lock ``lock_path`` (it dies with its holder), waiting at most ``timeout_s``.

    The holder records its host and pid beside the lock; a job that has to wait logs them once,
    and raises :class:`LockTimeoutError` naming them, the lock and the setting if the wait expires.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # the mode a plain open() gives, so a group sharing the cache (umask 002) can take the lock too;
    # filelock before 4.0 makes every lock file 0644 unless told
    lock = FileLock(lock_path, mode=0o666 & ~current_umask())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(lock_path)
        limit = "without a limit" if timeout_s is None else f"up to {timeout_s:g} s"
        log.info("%s: another job (%s) is computing it; waiting %s (lock %s)", what, holder, limit, lock_path)
        try:
            lock.acquire(timeout=-1 if timeout_s is None else timeout_s)
        except Timeout:
            raise LockTimeoutError(
                f"{what}: waited {timeout_s:g} s for the job computing it ({_holder(lock_path)}; lock {lock_path}); "
                "if that job is alive and slow, raise paths.lock_timeout_s; if it is gone, its lock was on a "
                "file system that keeps locks after their holder: delete the lock file"
            ) from None
    try:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        atomic_write_text(_holder_record(lock_path), json.dumps(holder))
        yield
    finally:
        _holder_record(lock_path).unlink(missing_ok=True)
        lock.release()


def remove_stale_temporaries(root: str | Path, max_age_s: float = STALE_TEMPORARY_AGE_S) -> list[Path]:
    """Remove the writers' temporaries (``.<name>.<random>.tmp``, files or folders) under ``root``
    last touched more than ``max_age_s`` ago: a killed writer's leftovers. Returns what was removed."""
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = time.time() - max_age_s
    removed = []
    for path in sorted(root.rglob(".*.tmp")):
        try:
            if path.lstat().st_mtime >= cutoff:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # another job cleaned it first
            continue
        removed.append(path)
    return removed


def stage_key(payload: Any) -> str:
    """Short stable hash of a JSON-serialisable payload (dict order does not matter)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StageCache:
    """Completed stage artifacts under ``root`` (``paths.cache_dir/stages``).

    ``lock_timeout_s``: how long :meth:`claim` waits for another job computing the same key
    (``None``: without a limit).
    """

    def __init__(self, root: str | Path, lock_timeout_s: float | None = None):
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def lookup(self, stage: str, key: str) -> Path | None:
        """The entry's directory if it is complete, else ``None``."""
        path = self.entry(stage, key)
        return path if (path / COMPLETE).is_file() else None

    # ------------------------------------------------------------------ unfinished fits
    def _unfinished_record(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.unfinished.json"

    def mark_unfinished(self, stage: str, key: str, checkpoint: str | Path) -> None:
        """Record that a fit of ``key`` is writing its resumable checkpoint to ``checkpoint``.

        Every attempt is kept (a resumed fit killed before its first save must not hide the
        checkpoint it resumed from); :meth:`unfinished_checkpoints` lists those still on disk.
        """
        checkpoint = Path(checkpoint).resolve()
        paths = [p for p in self._recorded_attempts(stage, key) if p != checkpoint] + [checkpoint]
        atomic_write_text(self._unfinished_record(stage, key), json.dumps([str(p) for p in paths], indent=1))

    def _recorded_attempts(self, stage: str, key: str) -> list[Path]:
        try:
            return [Path(p) for p in json.loads(self._unfinished_record(stage, key).read_text())]
        except (OSError, ValueError):
            return []

    def unfinished_checkpoints(self, stage: str, key: str) -> list[Path]:
        """Checkpoint files of earlier unfinished fits of ``key`` that still exist, oldest attempt first."""
        return [p for p in self._recorded_attempts(stage, key) if p.is_file()]

    def clear_unfinished(self, stage: str, key: str) -> None:
        """The fit of ``key`` finished: nothing is left to resume."""
        self._unfinished_record(stage, key).unlink(missing_ok=True)

    @contextmanager
    def claim(self, stage: str, key: str) -> Iterator[Path | None]:
        """Hold ``key``'s lock; yield its complete entry, or ``None`` for the holder to compute and :meth:`store`.

        A job that finds the lock held waits (saying once for whom) until the holder finishes or
        dies; it then gets the entry the holder stored, or, if the holder died first, computes it
        itself. A wait longer than ``lock_timeout_s`` raises :class:`LockTimeoutError`.
        """
        with held_lock(self.root / stage / f"{key}.lock", f"stage {stage}, key {key}", self.lock_timeout_s):
            yield self.lookup(stage, key)

    @contextmanager
    def store(self, stage: str, key: str) -> Iterator[Path]:
        """Yield a temporary directory to fill; on success it becomes the entry (atomically)."""
        final = self.entry(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
        plain_directory_mode(tmp)
        try:
            with full_disk_named(final):
                yield tmp
                (tmp / COMPLETE).write_text(json.dumps({"stage": stage, "key": key, "pid": os.getpid()}))
            try:
                os.rename(tmp, final)
            except OSError:  # another job stored the same key first: keep theirs
                if self.lookup(stage, key) is None:
                    raise
                log.info("stage %s: key %s was stored by another job meanwhile; keeping that copy", stage, key)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
