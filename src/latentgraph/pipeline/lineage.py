"""What each stage produced, under which name, and what it was built from: W&B Artifacts and their lineage.

A stage *declares* its output directory with :func:`declare`: ``<dir>/artifact.json`` holds the
artifact's name (the stage's cache key, so equal settings give equal names across runs), its
type and the names of the artifacts it was built from. At the end of a run
:func:`log_artifacts` logs every declared directory of the run (ensemble members' included) as a
W&B Artifact, with ``built_from`` in its metadata; an online run also declares the inputs it did
not produce itself with ``use_artifact``, which W&B draws as lineage (offline runs cannot: W&B
refuses ``use_artifact`` offline, so there the metadata is the lineage, and ``wandb sync`` keeps it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from latentgraph.artifacts import write_json
from latentgraph.pipeline.tracking import RunLog
from latentgraph.run_layout import ARTIFACT_FILE, RunLayout
from latentgraph.stage_cache import stage_key


def declare(
    directory: Path, name: str, kind: str, built_from: Iterable[str | None] = (), files: list[str] | None = None
) -> str:
    """Write ``directory/artifact.json``: ``directory`` (or only ``files`` in it) is artifact ``name``."""
    record = {"name": name, "type": kind, "built_from": sorted({b for b in built_from if b})}
    if files is not None:
        record["files"] = files
    write_json(Path(directory) / ARTIFACT_FILE, record)
    return name


def declared(directory: Path) -> str | None:
    """The artifact name ``directory`` was declared as, if any."""
    path = Path(directory) / ARTIFACT_FILE
    return json.loads(path.read_text())["name"] if path.is_file() else None


def keyed_name(kind: str, payload: object) -> str:
    """``<kind>-<hash of payload>``: the name of an output that has no stage-cache key of its own."""
    return f"{kind}-{stage_key(payload)}"


def declare_report(run_dir: Path) -> str | None:
    """Declare ``report.html`` as artifact ``report-<results' key>`` (nothing without results)."""
    run = RunLayout(run_dir)
    results = declared(run.results.path)
    if results is None or not run.report.is_file():
        return None
    return declare(run.path, results.replace("results-", "report-", 1), "report", [results], files=[run.report.name])


def log_artifacts(run_log: RunLog, run_dir: Path) -> list[str]:
    """Log every declared directory under ``run_dir`` (W&B's own directory aside); returns their names."""
    names = []
    for record_file in sorted(Path(run_dir).rglob(ARTIFACT_FILE)):
        if "wandb" in record_file.relative_to(run_dir).parts:
            continue
        record = json.loads(record_file.read_text())
        directory = record_file.parent
        paths = [directory / name for name in record["files"]] if "files" in record else [directory]
        run_log.artifact(record["name"], record["type"], paths, built_from=record["built_from"])
        names.append(record["name"])
    return names
