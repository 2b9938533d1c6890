"""A content-addressed cache of stage artifacts, shared by the runs of a sweep.

Each entry lives in ``<cache_dir>/stages/<stage>/<key>/``, where ``key`` hashes the config
subtree the stage depends on. An entry is written into a temporary directory beside it, gets a
``COMPLETE`` marker last, and is renamed into place in one step. A reader trusts only entries
with the marker, so a killed writer leaves nothing that a later run would use.

Jobs that need the same key compute it once: :meth:`StageCache.claim` holds a lock per key
(``<stage>/<key>.lock``, an OS file lock that dies with its holder, so a killed job blocks no
one), and a job that finds the key being computed waits and then reuses the entry. Should two
writers still meet (a cache on a file system without locks), the second rename finds the entry
there and its own copy is dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from latentgraph.artifacts import atomic_write_text, plain_directory_mode

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"


def stage_key(payload: Any) -> str:
    """Short stable hash of a JSON-serialisable payload (dict order does not matter)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StageCache:
    """Completed stage artifacts under ``root`` (``paths.cache_dir/stages``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

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

        A job that finds the lock held waits (saying so once) until the holder finishes or dies;
        it then gets the entry the holder stored, or, if the holder died first, computes it itself.
        """
        lock_path = self.root / stage / f"{key}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("stage %s: another job is computing key %s; waiting for it (lock %s)", stage, key, lock_path)
            lock.acquire()
        try:
            yield self.lookup(stage, key)
        finally:
            lock.release()

    @contextmanager
    def store(self, stage: str, key: str) -> Iterator[Path]:
        """Yield a temporary directory to fill; on success it becomes the entry (atomically)."""
        final = self.entry(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
        plain_directory_mode(tmp)
        try:
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
