"""What each stage produced, under which name, and what it was built from: W&B Artifacts and their lineage.

A stage *declares* its output directory with :func:`declare`: ``<dir>/artifact.json`` holds the
artifact's name (the stage's cache key, so equal settings give equal names across runs), its
type and the names of the artifacts it was built from. At the end of a run
:func:`log_artifacts` logs every declared directory of the run (ensemble members' included) as a
W&B Artifact, with ``built_from`` in its metadata and each input pinned to the version this run
logged (``built_from_versions``: ``name:content-<digest>``, an alias every artifact carries); an
online run also declares its inputs with ``use_artifact`` by that pinned version, which W&B draws
as lineage (offline runs cannot: W&B refuses ``use_artifact`` offline, so there the pinned metadata
is the lineage, and ``wandb sync`` keeps it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from graphlib import TopologicalSorter
from pathlib import Path

from latentgraph.atomic import write_json
from latentgraph.run_layout import ARTIFACT_FILE, RunLayout
from latentgraph.runtime.cache.store import stage_key
from latentgraph.runtime.tracking import RunLog


def declare(
    directory: Path,
    name: str,
    kind: str,
    built_from: Iterable[str | None] = (),
    files: list[str] | None = None,
    best: str | None = None,
) -> str:
    """Write ``directory/artifact.json``: ``directory`` (or only ``files`` in it) is artifact ``name``;
    ``best``, a file in it that is logged first as its own version, aliased ``best`` (a checkpoint's)."""
    record = {"name": name, "type": kind, "built_from": sorted({b for b in built_from if b})}
    if files is not None:
        record["files"] = files
    if best is not None:
        record["best"] = best
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
    """Log every declared directory under ``run_dir`` (W&B's own directory aside), each input before
    what was built from it, so that each is pinned to the version this run logged; returns their names."""
    records: dict[str, tuple[dict, Path]] = {}
    for record_file in sorted(Path(run_dir).rglob(ARTIFACT_FILE)):
        if "wandb" not in record_file.relative_to(run_dir).parts:
            record = json.loads(record_file.read_text())
            records.setdefault(record["name"], (record, record_file.parent))  # an ensemble member's copy: once
    pins: dict[str, str] = {}
    order = _inputs_first(records)
    for name in order:
        record, directory = records[name]
        paths = [directory / file for file in record["files"]] if "files" in record else [directory]
        if "best" in record:  # first, so that the version logged last is the latest
            run_log.artifact(name, record["type"], [directory / record["best"]], record["built_from"], pins, "best")
        alias = run_log.artifact(name, record["type"], paths, built_from=record["built_from"], pins=pins)
        if alias is not None:
            pins[name] = alias
    return order


def _inputs_first(records: dict[str, tuple[dict, Path]]) -> list[str]:
    """The declared names, each after those of this run it was built from."""
    sources = {name: [s for s in record["built_from"] if s in records] for name, (record, _) in sorted(records.items())}
    return list(TopologicalSorter(sources).static_order())
