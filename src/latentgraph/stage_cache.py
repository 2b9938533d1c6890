"""A content-addressed cache of stage artifacts, shared by the runs of a sweep.

Each entry lives in ``<cache_dir>/stages/<stage>/<key>/``, where ``key`` hashes the config
subtree the stage depends on. An entry is written into a temporary directory beside it, gets a
``COMPLETE`` marker last, and is renamed into place in one step. A reader trusts only entries
with the marker, so a killed writer leaves nothing that a later run would use, and two jobs
writing the same key (parallel sweep jobs) both finish: the second rename finds the entry there
and its own copy is dropped.
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

    @contextmanager
    def store(self, stage: str, key: str) -> Iterator[Path]:
        """Yield a temporary directory to fill; on success it becomes the entry (atomically)."""
        final = self.entry(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
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
