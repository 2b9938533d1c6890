"""The run directory's layout: every file name a run, an ensemble or a sweep writes, in one place.

Stages write through it, and the report, the notebooks and the scripts read through it::

    run = RunLayout(run_dir)
    run.graph.blanket            # <run_dir>/graph/blanket.json
    run.results.comparisons      # <run_dir>/results/comparisons.csv
    run.member(3).graph.path     # <run_dir>/ensemble/seed-3/graph

A stage that writes into a folder it is given (the graph stage writes a member's ``graph/`` or a
``stage=graph`` rebuild's) takes that folder's type: ``GraphFiles(out_dir).blanket``. docs/usage.md
("What a run writes") describes each file.
"""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path
from typing import Generic, TypeVar

F = TypeVar("F", bound="Folder")

ARTIFACT_FILE = "artifact.json"  # a declared output's W&B artifact record, in any folder (runtime/lineage.py)
ERROR_FILE = "error.txt"  # a failed sweep job's error, in its job folder
TRACEBACK_FILE = "traceback.txt"  # a crashed sweep job's traceback, in its job folder


class _File(property):
    """A folder attribute that is the path of one of its files."""


def _file(name: str) -> _File:
    """A folder attribute: the path of its file ``name``."""
    return _File(lambda folder: folder.path / name, doc=f"``{name}``")


class Folder:
    """One folder of a run; its attributes are the paths of the files a stage writes there."""

    patterns: tuple[str, ...] = ()  # files named elsewhere (Lightning, Hydra, W&B), as globs relative to the folder

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    artifact = _file(ARTIFACT_FILE)

    def files(self) -> list[Path]:
        """Every file this folder's attributes name (whether written or not)."""
        names = {name for cls in type(self).__mro__ for name, value in vars(cls).items() if isinstance(value, _File)}
        return sorted(getattr(self, name) for name in names)

    def subfolders(self) -> list[Folder]:
        """The stage folders inside this one (none but in a run)."""
        return []

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether the layout names ``path`` (a file in this folder or below)."""
        path = Path(path)
        if path in self.files():
            return True
        relative = path.relative_to(self.path).as_posix() if path.is_relative_to(self.path) else None
        if relative is not None and any(fnmatch(relative, pattern) for pattern in self.patterns):
            return True
        return any(folder.owns(path) for folder in self.subfolders() if path.is_relative_to(folder.path))


class DataFiles(Folder):
    """``data/``: what the data stage read, kept and dropped; the positive control's definition."""

    summary = _file("summary.json")
    dropped = _file("dropped.csv")
    conflicts = _file("conflicts.csv")
    identity_dropped = _file("identity_dropped.csv")  # OOD sequences above data.max_identity
    control = _file("control.json")


class AttributeFiles(Folder):
    """``attributes/``: the attribute set the oracles score."""

    set = _file("set.json")


class MetricFiles(Folder):
    """``metrics/``: the autoencoder's and classifiers' quality and the run's summary."""

    wae = _file("wae.json")
    wae_provenance = _file("wae_provenance.json")
    classifiers = _file("classifiers.json")
    summary = _file("summary.json")


class CheckpointFiles(Folder):
    """``checkpoints/``: the autoencoder."""

    last = _file("last.ckpt")
    best_template = "best-{epoch:03d}"  # Lightning's ModelCheckpoint names the best model with it
    patterns = ("best-*.ckpt",)


class PerturbationFiles(Folder):
    """``perturbation/``: the perturbation experiment's arrays and summary."""

    result = _file("result.npz")
    summary = _file("summary.json")
    change_rate = _file("change_rate.csv")
    sensitivity = _file("sensitivity.csv")
    pvalues = _file("pvalues.csv")
    qvalues = _file("qvalues.csv")
    null_qvalues = _file("null_qvalues.csv")

    def table(self, name: str) -> Path:
        """A ``[latents, attributes]`` array as a readable CSV: ``sensitivity``, ``pvalues``, ``qvalues``, …"""
        return getattr(self, name)


class GraphFiles(Folder):
    """``graph/``: the latent→attribute graph, the attribute DAG, the blanket and their pictures."""

    graph = _file("graph.json")
    attribute_dag = _file("attribute_dag.graphml")
    latent_attribute = _file("latent_attribute.graphml")
    blanket = _file("blanket.json")
    summary = _file("summary.json")
    latent_edges = _file("latent_edges.csv")
    sensitivity_heatmap = _file("sensitivity_heatmap.png")
    picture = _file("graph.png")
    stability = _file("stability.json")
    stability_picture = _file("stability.png")
    source = _file("source.json")  # a stage=graph rebuild: the run it read


class ConsensusFiles(Folder):
    """``consensus/``: the blanket and edges agreed over an ensemble's autoencoders."""

    blanket = _file("blanket.json")
    stability = _file("stability.json")
    stability_picture = _file("stability.png")


class ResultFiles(Folder):
    """``results/``: the predictors' metrics, comparisons, scores and figures."""

    metrics_csv = _file("metrics.csv")
    metrics_json = _file("metrics.json")
    summary = _file("summary.csv")
    ood_drop = _file("ood_drop.csv")
    comparisons = _file("comparisons.csv")
    comparisons_picture = _file("comparisons.png")
    oracle = _file("oracle.json")
    scores = _file("scores.npz")
    features = _file("features.json")
    limited_curve = _file("limited_curve.png")

    def written(self) -> list[Path]:
        """Every file the predictor stage writes here (its artifact record aside)."""
        return [path for path in self.files() if path.name != ARTIFACT_FILE]


class _Stage(Generic[F]):
    """A run attribute: the folder of one stage, as its files' type (``run.graph`` is ``GraphFiles``)."""

    def __init__(self, kind: type[F], name: str) -> None:
        self.kind, self.name = kind, name

    def __get__(self, run: Folder, owner: type | None = None) -> F:
        return self.kind(run.path / self.name)


class RunLayout(Folder):
    """A run directory (``outputs/runs/<time>``, a sweep job, an ensemble member)."""

    report = _file("report.html")
    log = _file("latentgraph.log")  # Hydra's job log
    error = _file(ERROR_FILE)
    traceback = _file(TRACEBACK_FILE)
    unused_checkpoint = _file("unused.ckpt")  # a DDP worker's share of a collective save, never read
    hydra_config = _File(lambda run: run.path / ".hydra" / "config.yaml", doc="``.hydra/config.yaml``")
    overrides = _File(lambda run: run.path / ".hydra" / "overrides.yaml", doc="``.hydra/overrides.yaml``")
    # Hydra's other records, the CSV logger (logger.csv.name, default csv) and W&B's offline run
    patterns = (".hydra/*", "csv/*", "wandb/*")

    data = _Stage(DataFiles, "data")
    attributes = _Stage(AttributeFiles, "attributes")
    metrics = _Stage(MetricFiles, "metrics")
    checkpoints = _Stage(CheckpointFiles, "checkpoints")
    perturbation = _Stage(PerturbationFiles, "perturbation")
    graph = _Stage(GraphFiles, "graph")
    consensus = _Stage(ConsensusFiles, "consensus")
    results = _Stage(ResultFiles, "results")

    @property
    def csv_metrics(self) -> Path:
        """The CSV logger's per-step and per-epoch metrics (``logger`` with csv)."""
        return self.path / "csv" / "metrics.csv"

    def member(self, seed: int) -> RunLayout:
        """An in-process ensemble's member run for ``seed``: ``ensemble/seed-<seed>``."""
        return RunLayout(self.path / "ensemble" / f"seed-{seed}")

    def members(self) -> list[RunLayout]:
        """The further member runs an in-process ensemble wrote here, by seed (its first member is this run)."""
        found = self.member(0).path.parent.glob("seed-*")
        return sorted((RunLayout(path) for path in found), key=lambda run: int(run.path.name.removeprefix("seed-")))

    def subfolders(self) -> list[Folder]:
        stages = [name for cls in type(self).__mro__ for name, value in vars(cls).items() if isinstance(value, _Stage)]
        return [getattr(self, name) for name in stages]

    def owns(self, path: str | os.PathLike) -> bool:
        parts = Path(path).relative_to(self.path).parts if Path(path).is_relative_to(self.path) else ()
        if len(parts) > 2 and parts[0] == "ensemble" and parts[1].startswith("seed-"):  # a member's own run
            return RunLayout(self.path / parts[0] / parts[1]).owns(path)
        return super().owns(path)


class SweepLayout(Folder):
    """A multirun's sweep directory: its job folders and what is written once the jobs end."""

    aggregate = _file("aggregate.csv")
    aggregate_picture = _file("aggregate.png")
    missing_jobs = _file("missing_jobs.txt")
    study = _file("study.md")
    study_forest = _file("study_forest.png")
    # each job's record (pipeline/sweep.py): jobs/<num>.json, written by the job when it ends
    job_records = _file("jobs")
    failed_jobs = _file("failed_jobs.txt")  # the failed jobs' lines, as latentgraph lists them
    patterns = ("jobs/*.json",)

    def job_record(self, num: int) -> Path:
        return self.job_records / f"{num}.json"

    @property
    def ensemble(self) -> RunLayout:
        """The run that an ``ensemble.jobs=true`` sweep builds from its member jobs."""
        return RunLayout(self.path / "ensemble")

    def jobs(self) -> list[RunLayout]:
        """The sweep's job folders (those Hydra wrote overrides into), in job-number order (2 before 10)."""
        runs = (RunLayout(path) for path in self.path.iterdir() if path.is_dir())
        return sorted(
            (run for run in runs if run.overrides.is_file()), key=lambda run: (len(run.path.name), run.path.name)
        )


class WaeCacheFiles(Folder):
    """A stage-cache entry of the autoencoder (``<cache>/stages/wae/<key>``; not a run folder)."""

    model = _file("model.ckpt")
    quality = _file("wae.json")
    provenance = _file("provenance.json")


def latest_run(start: str | os.PathLike | None = None) -> RunLayout:
    """``LATENTGRAPH_RUN_DIR``, or the newest run under the nearest ``outputs/runs`` at or above ``start``.

    ``start`` defaults to the working directory, so a notebook opened in ``notebooks/`` finds the
    repository's runs.
    """
    if os.environ.get("LATENTGRAPH_RUN_DIR"):
        return RunLayout(Path(os.environ["LATENTGRAPH_RUN_DIR"]).expanduser())
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        runs = [path for path in (folder / "outputs" / "runs").glob("*/") if path.is_dir()]
        if runs:
            return RunLayout(max(runs, key=lambda path: path.stat().st_mtime))
    raise FileNotFoundError(f"no run under outputs/runs at or above {here}; set LATENTGRAPH_RUN_DIR to a run directory")
