"""Read an offline W&B run's ``.wandb`` log back, for the tests.

wandb 0.31 writes no ``files/wandb-summary.json`` for offline runs and ships no reader for its
log, so this reads the log format itself: a 7-byte header (``:W&B``, magic, version), then
LevelDB-style 32 KiB blocks of chunks (CRC 4 bytes, length 2, type 1: full/first/middle/last),
each whole record a ``wandb.proto.wandb_internal_pb2.Record`` (wandb's own protobuf classes).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run log"
    out, chunks, pos = [], [], HEADER
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # block trailer too small for a chunk header
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            continue
        chunks.append(payload)
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(chunks))
            out.append(record)
            chunks = []
    return out


def summary(path: str | Path) -> dict:
    """The run's final summary: the last value of every key in its summary records."""
    values: dict = {}
    for record in records(path):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                values["/".join(item.nested_key) if item.nested_key else item.key] = json.loads(item.value_json)
    return values


def config_keys(path: str | Path) -> set[str]:
    keys: set[str] = set()
    for record in records(path):
        if record.WhichOneof("record_type") == "config":
            keys |= {item.key for item in record.config.update}
    return keys


def run_record(path: str | Path) -> wandb_internal_pb2.RunRecord:
    """The run's own record (project, group, job_type, ...)."""
    return next(r.run for r in records(path) if r.WhichOneof("record_type") == "run")


def artifact_versions(path: str | Path) -> list[tuple[str, dict]]:
    """Every artifact version the run logged, in order: its name, and its type, metadata, the paths
    of its files and its aliases."""
    out = []
    for record in records(path):
        if record.WhichOneof("record_type") == "artifact":
            artifact = record.artifact
            logged = {
                "type": artifact.type,
                "metadata": json.loads(artifact.metadata) if artifact.metadata else {},
                "files": sorted(entry.path for entry in artifact.manifest.contents),
                "aliases": list(artifact.aliases),
            }
            out.append((artifact.name, logged))
    return out


def artifacts(path: str | Path) -> dict[str, dict]:
    """The run's logged artifacts by name, each as the version it logged last."""
    return dict(artifact_versions(path))


def run_name(path: str | Path) -> str:
    for record in records(path):
        if record.WhichOneof("record_type") == "run":
            return record.run.display_name
    return ""


def exit_code(path: str | Path) -> int | None:
    """The exit code the run was finished with (``None``: it never finished)."""
    exits = [r.exit.exit_code for r in records(path) if r.WhichOneof("record_type") == "exit"]
    return exits[-1] if exits else None


def step_metrics(path: str | Path) -> dict[str, str]:
    """Each ``define_metric`` name or glob and the metric it is charted against."""
    out = {}
    for record in records(path):
        if record.WhichOneof("record_type") == "metric":
            out[record.metric.glob_name or record.metric.name] = record.metric.step_metric
    return out
