"""The study's tables and forest plot, read from the jobs of ``latentgraph -m experiment=study``.

Every number comes from a job's own files, and each table names them: ``results/comparisons.csv``
(the blanket − ``all`` and − each baseline, crossed-bootstrap intervals, Holm-adjusted words),
``consensus/stability.json`` (per-seed blankets, their Jaccard and its chance level) and, for the
positive control, ``data/control.json`` (the planted members). ``latentgraph-aggregate`` writes
them to ``study.md`` beside the jobs and, with ``--docs``, between the study markers of a
markdown file (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from matplotlib.figure import Figure

from latentgraph.atomic import atomic_write_bytes, atomic_write_text, read_json
from latentgraph.attributes.planted import PLANTED_COLUMN
from latentgraph.predictors.comparisons import PER_SEED
from latentgraph.report.figures import save_png
from latentgraph.report.verdict import n_label, ordered_by_n
from latentgraph.run_layout import RunLayout, SweepLayout

BEGIN, END = "<!-- study:begin (written by latentgraph-aggregate --docs) -->", "<!-- study:end -->"
MARKS = {"better": "▲", "worse": "▼", "no detectable difference": "="}
CONSENSUS = "consensus_blanket"


def arm_name(blanket: str) -> str | None:
    """The study tables' name of a ``comparisons.csv`` arm: ``per-seed (10 fits)``, ``consensus``,
    ``one fit``; ``None`` for an arm the tables do not show."""
    if blanket.startswith(PER_SEED):
        return "per-seed" + blanket[len(PER_SEED) :]
    return {CONSENSUS: "consensus", "markov_blanket": "one fit"}.get(blanket)


def fits_vary(row) -> bool:
    """Whether a comparison's interval carries the fits' variance (the per-seed rows'); the
    consensus rows hold their ensemble fixed, so they get no word and enter no count."""
    return str(row["blanket"]).startswith(PER_SEED)


@dataclass(frozen=True)
class StudyJob:
    """One finished job of the study sweep: its shift's name and directory."""

    shift: str
    path: Path

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.path)

    @property
    def comparisons(self) -> pd.DataFrame:
        file = self.layout.results.comparisons
        return pd.read_csv(file) if file.is_file() else pd.DataFrame()


def study_jobs(sweep_dir: str | Path) -> list[StudyJob]:
    """The sweep's job directories, each named by its ``study=`` override (or its directory)."""
    jobs = []
    for run in SweepLayout(sweep_dir).jobs():
        overrides = yaml.safe_load(run.overrides.read_text()) or []
        shift = next((o.split("=", 1)[1] for o in overrides if str(o).startswith("study=")), run.path.name)
        jobs.append(StudyJob(shift, run.path))
    return jobs


def _cell(row) -> str:
    """``+0.012 [−0.030, +0.051] =``; a row whose interval holds the fits fixed gets no word (``·``)."""
    mark = MARKS.get(row["verdict"], "?") if fits_vary(row) or row["blanket"] == "markov_blanket" else "·"
    return f"{row['diff']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}] {mark}"


def _column(regime: str, n: int) -> str:
    """The results table's column: each limited ``n``, and one column for the whole training split."""
    return f"n={n}" if regime == "limited" else "all labels"


def _oracle(job: StudyJob) -> str:
    oracle = (read_json(job.layout.attributes.set) or {}).get("target_oracle") or {}
    kind = "pre-trained elsewhere" if oracle.get("pretrained") else "trained on the ID split"
    if oracle.get("column") == PLANTED_COLUMN:
        kind = "the planted function, the known truth"
    return f"{oracle.get('column', '?')} ({kind})"


def results_table(jobs: list[StudyJob]) -> pd.DataFrame:
    """Per shift, evaluation set and blanket arm: the blanket − ``all`` at every ``n`` and the
    words over the size-matched and structure baselines."""
    rows = []
    for job in jobs:
        comparisons = job.comparisons
        if comparisons.empty:
            continue
        ensemble = comparisons["blanket"].map(lambda b: b.startswith(PER_SEED) or b == CONSENSUS).any()
        for (dataset, blanket), own in comparisons.groupby(["dataset", "blanket"], sort=False):
            if arm_name(blanket) is None or blanket == "markov_blanket" and ensemble:
                continue  # an ensemble reports its per-seed blankets and its consensus
            versus_all = ordered_by_n(own[own["reference"] == "all"])
            found = ((read_json(job.layout.results.oracle) or {}).get("auroc") or {}).get(dataset)
            row = {"shift": job.shift, "oracle": _oracle(job), "dataset": dataset, "blanket": arm_name(blanket)}
            row["oracle AUROC"] = f"{found['auroc']:.3f}" if found else "?"
            row.update({_column(r.regime, r.n): _cell(r._asdict()) for r in versus_all.itertuples()})
            supervised = versus_all[versus_all["regime"] == "supervised"]
            row["labels"] = int(supervised["n"].iloc[0]) if len(supervised) else None
            row["vs baselines ▲/▼/="] = _baseline_count(own)
            rows.append(row)
    return pd.DataFrame(rows)


def _baseline_count(own: pd.DataFrame) -> str:
    """The words over the baselines (``3/0/27``), counted only where the interval carries the fits'
    variance (or for a lone fit); ``—`` for the consensus, whose rows hold its ensemble fixed."""
    baselines = own[own["reference"] != "all"]
    if baselines.empty or not (fits_vary(baselines.iloc[0]) or baselines.iloc[0]["blanket"] == "markov_blanket"):
        return "—"
    words = baselines["verdict"].value_counts()
    text = "/".join(str(words.get(w, 0)) for w in MARKS)
    failed = int(baselines["failed"].sum()) if "failed" in baselines else 0
    return text + (f" ({failed} failed selections left out)" if failed else "")


def stability_table(jobs: list[StudyJob]) -> pd.DataFrame:
    """Per shift: the members' blankets' mean pairwise Jaccard beside its chance level, the
    consensus's expected reproducibility, and the consensus blanket."""
    rows = []
    for job in jobs:
        stability = read_json(job.layout.consensus.stability)
        if stability is None:
            continue
        rows.append(
            {
                "shift": job.shift,
                "fits": stability["n_graphs"],
                "non-empty blankets": sum(bool(b) for b in stability["blankets"]),
                "per-seed Jaccard": round(stability["mean_pairwise_jaccard"], 2),
                "chance": round(stability["chance_pairwise_jaccard"], 2),
                "consensus reproducibility": round(stability["expected_reproducibility"], 2),
                "consensus blanket": ", ".join(stability["blanket"]) or "(empty)",
            }
        )
    return pd.DataFrame(rows)


def control_table(jobs: list[StudyJob]) -> pd.DataFrame:
    """For the positive control: how the blankets recover the planted members (recall, extras)."""
    rows = []
    for job in jobs:
        control, stability = read_json(job.layout.data.control), read_json(job.layout.consensus.stability)
        if control is None or stability is None:
            continue
        members = set(control["members"])
        blankets = {
            "consensus": stability["blanket"],
            **{f"seed {s}": b for s, b in zip(stability["seeds"], stability["blankets"])},
        }
        for name, blanket in blankets.items():
            found = set(blanket)
            rows.append(
                {
                    "shift": job.shift,
                    "blanket": name,
                    "planted members found": f"{len(found & members)} of {len(members)}",
                    "recall": round(len(found & members) / len(members), 2),
                    "extras": ", ".join(sorted(found - members)) or "none",
                    "missed": ", ".join(sorted(members - found)) or "none",
                }
            )
    return pd.DataFrame(rows)


def control_baselines_table(jobs: list[StudyJob]) -> pd.DataFrame:
    """For the positive control: the per-seed blankets − each baseline on the reversed (OOD) set, at
    every ``n``, with the few-fit intervals."""
    rows = []
    for job in jobs:
        if read_json(job.layout.data.control) is None or job.comparisons.empty:
            continue
        comparisons = job.comparisons
        per_seed = comparisons["blanket"].str.startswith(PER_SEED)
        shifted = comparisons[per_seed & (comparisons["dataset"] != "id_test")]
        for (dataset, reference), own in shifted.groupby(["dataset", "reference"], sort=False):
            if reference == "all":
                continue  # in the results table
            row = {"shift": job.shift, "dataset": dataset, "per-seed −": reference}
            row.update({_column(r.regime, r.n): _cell(r._asdict()) for r in ordered_by_n(own).itertuples()})
            rows.append(row)
    return pd.DataFrame(rows)


def forest_figure(jobs: list[StudyJob]) -> Figure | None:
    """The per-seed blanket − ``all`` (the few-fit interval, over fits, subsamples and test rows) on
    each shift's out-of-distribution set, at every ``n``; one row of points per shift."""
    points = []
    for job in jobs:
        comparisons = job.comparisons
        if comparisons.empty:
            continue
        arms = list(dict.fromkeys(comparisons.blanket))
        arm = next((a for a in arms if a.startswith(PER_SEED)), "markov_blanket")
        rows = comparisons[(comparisons.blanket == arm) & (comparisons.reference == "all")]
        rows = rows[rows.dataset != "id_test"]
        rows = pd.concat([ordered_by_n(own) for _, own in rows.groupby("dataset", sort=True)]) if len(rows) else rows
        points += [(job.shift, r) for _, r in rows.iterrows()]
    if not points:
        return None
    figure = Figure(figsize=(7.5, 0.45 * len(points) + 1.2))
    axis = figure.subplots()
    for y, (_, row) in enumerate(reversed(points)):
        colour = {"better": "tab:green", "worse": "tab:red"}.get(row["verdict"], "tab:grey")
        axis.errorbar(
            row["diff"], y, xerr=[[row["diff"] - row["low"]], [row["high"] - row["diff"]]], fmt="o", color=colour
        )
    labels = [f"{shift} · {row['dataset']} · {n_label(row['regime'], row['n'])}" for shift, row in reversed(points)]
    axis.set_yticks(range(len(points)), labels, fontsize=8)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel("blanket − all, AUROC (95 % interval over fits; green better, red worse, Holm)")
    axis.set_title("each fit's own blanket − all, out of distribution (the paper's claim: > 0 at small n)")
    return figure


def _markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no job has these results)\n"
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join(
        "| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |\n" for row in frame.itertuples(index=False)
    )
    return header + body


def study_markdown(jobs: list[StudyJob], sweep_dir: Path, missing: list[str]) -> str:
    """The three tables (and the control's) as markdown, each naming the files it was made from."""
    where = sweep_dir.as_posix()
    forest = SweepLayout(sweep_dir).study_forest
    parts = [
        f"Made by `latentgraph-aggregate {where}` from the study's jobs ({', '.join(j.shift for j in jobs)}).",
        "",
        f"**Results** (`{where}/<shift>/results/comparisons.csv`): blanket − all, AUROC, with 95 % intervals; "
        "▲ better, ▼ worse, = no detectable difference (Holm-adjusted over each arm's comparisons at each n: all "
        "and the six baselines). `per-seed (S fits)`: each fit's own blanket, averaged over the S fits, with the "
        "few-fit t interval over fits × label subsamples × test rows (docs/method.md §6b). `consensus`: the "
        "attributes in the blankets of at least half of the fits; its interval holds this ensemble fixed (label "
        "subsamples × test rows only), so it gets no word (·) and no count. `all labels`: the whole ID training "
        "split (`labels` rows); `vs baselines`: the per-seed blankets − each of lasso, mutual information, random "
        "(size-matched to each fit's blanket), PC, GES and LiNGAM at every n, counted by word, with failed "
        "selections left out and counted; `oracle AUROC`: the target oracle's own (`results/oracle.json`).",
        "",
        _markdown(results_table(jobs)),
        f"**Stability** (`{where}/<shift>/consensus/stability.json`): the mean Jaccard of the fits' blankets, "
        "beside the Jaccard of blankets drawn at random with the same sizes; the consensus's expected "
        "reproducibility is the Jaccard two consensus blankets of as many fits would have, from each "
        "attribute's frequency.",
        "",
        _markdown(stability_table(jobs)),
        f"**Positive control** (`{where}/control/data/control.json`, `consensus/stability.json`): the planted "
        "members against each blanket.",
        "",
        _markdown(control_table(jobs)),
        f"**Positive control against each baseline** (`{where}/control/results/comparisons.csv`): the per-seed "
        "blankets − each baseline on the reversed set, AUROC, with the few-fit intervals and the Holm-adjusted word.",
        "",
        _markdown(control_baselines_table(jobs)),
        f"![forest plot]({forest.name})" if forest.is_file() else "",
    ]
    unfinished = [job.shift for job in jobs if not job.layout.results.summary.is_file()]
    if unfinished:
        parts.append("\nNot finished (no results/summary.csv): " + ", ".join(unfinished))
    if missing:
        parts.append("\nNo blanket comparison (every blanket empty, or the job unfinished): " + ", ".join(missing))
    return "\n".join(parts) + "\n"


def study_files(run: RunLayout) -> list[Path]:
    """The files of one job that the study's tables read, and the settings that made it."""
    return [
        run.overrides,
        run.hydra_config,
        run.results.comparisons,
        run.results.summary,
        run.results.oracle,
        run.attributes.set,
        run.consensus.stability,
        run.data.control,
        run.data.summary,
    ]


def archive_study(sweep_dir: str | Path, archive: str | Path) -> list[Path]:
    """Copy each job's :func:`study_files` into ``archive/<job folder>/`` (same layout), so that the
    archive is itself a sweep folder ``latentgraph-aggregate`` reads: the tables outlive the run
    folders, and shifts run at different times join one set of tables. A job's earlier copy in the
    archive is replaced file by file; other jobs' copies are kept."""
    written = []
    for run in SweepLayout(sweep_dir).jobs():
        for source in study_files(run):
            if source.is_file():
                target = Path(archive) / run.path.name / source.relative_to(run.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(atomic_write_bytes(target, source.read_bytes()))
    return written


def write_study(sweep_dir: str | Path, docs: str | Path | None = None) -> list[Path]:
    """``study.md`` and ``study_forest.png`` in the sweep directory; with ``docs``, the same
    markdown between that file's study markers (the forest plot copied beside it)."""
    sweep = SweepLayout(sweep_dir)
    jobs = study_jobs(sweep.path)
    missing = [job.shift for job in jobs if job.comparisons.empty]
    written = []
    figure = forest_figure(jobs)
    if figure is not None:
        written.append(save_png(figure, sweep.study_forest))
    text = study_markdown(jobs, sweep.path, missing)
    written.append(atomic_write_text(sweep.study, text))
    if docs is not None:
        docs = Path(docs)
        document = docs.read_text()
        if BEGIN not in document or END not in document:
            raise ValueError(f"{docs} has no study markers ({BEGIN} … {END}) to write between")
        before, rest = document.split(BEGIN, 1)
        _, after = rest.split(END, 1)
        if figure is not None:
            written.append(save_png(figure, docs.parent / sweep.study_forest.name))
        written.append(atomic_write_text(docs, before + BEGIN + "\n" + text + END + after))
    return written
