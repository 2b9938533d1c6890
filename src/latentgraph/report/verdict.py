"""The run's answer, first: the blanket with its confidence, the fixed comparisons with their
intervals and words, and the target oracle's own AUROC (docs/method.md §6b).

Read from the run directory's files, so the same verdict is printed at the end of a run, opens
``report.html`` and can be rebuilt for any finished run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from latentgraph.atomic import read_json
from latentgraph.predictors.comparisons import PER_SEED
from latentgraph.predictors.labelled import ID_TEST
from latentgraph.run_layout import RunLayout

QUESTION = (
    "Does a predictor trained on the Markov blanket of {target} hold up better out of distribution, "
    "with few labels, than one trained on all attributes or on the baselines' selections?"
)
WORD_MARKS = {"better": "▲ better", "worse": "▼ worse", "no detectable difference": "= no detectable difference"}


@dataclass
class Verdict:
    """What a run found, gathered from its files."""

    target: str
    blanket: list[str]
    confidence: dict[str, float]  # member -> frequency (bootstrap resamples or ensemble members)
    confidence_source: str
    empty_reason: str | None
    oracle: dict
    comparisons: pd.DataFrame
    not_compared: list[str] = field(default_factory=list)
    fit_seeds: list[int] = field(default_factory=list)  # the fits of an ensemble, the run's own first
    shipped_seeds: list[int] = field(default_factory=list)  # those of them that are shipped members
    per_fit: pd.DataFrame = field(default_factory=pd.DataFrame)  # per_fit_differences of the fits

    def fits_line(self) -> str | None:
        """Which fits the verdict is over: the run's own, its fitted members and the shipped ones."""
        if len(self.fit_seeds) < 2:
            return None
        own, rest = self.fit_seeds[0], self.fit_seeds[1:]
        if set(self.fit_seeds) <= set(self.shipped_seeds):  # model=pretrained: nothing was fitted
            return (
                f"the verdict is over {len(self.fit_seeds)} fits, the shipped pre-trained members (seeds "
                f"{', '.join(map(str, self.fit_seeds))}; docs/method.md §3b), nothing fitted by this run"
            )
        fitted = [s for s in rest if s not in self.shipped_seeds]
        parts = [f"this run's fit (seed {own})"]
        if fitted:
            parts.append(f"its fitted members (seeds {', '.join(map(str, fitted))})")
        if self.shipped_seeds:
            parts.append(
                f"the shipped pre-trained members (seeds {', '.join(map(str, self.shipped_seeds))}; docs/method.md §3b)"
            )
        return f"the verdict is over {len(self.fit_seeds)} fits: " + ", ".join(parts)

    def per_fit_line(self, dataset: str) -> str | None:
        """Each fit's own blanket − all on ``dataset`` at the smallest n: how much the fits disagree."""
        rows = self.per_fit[self.per_fit["dataset"] == dataset] if not self.per_fit.empty else self.per_fit
        if rows.empty:
            return None
        first = ordered_by_n(rows).iloc[0]
        at = rows[(rows["regime"] == first["regime"]) & (rows["n"] == first["n"])]
        own = self.fit_seeds[0] if self.fit_seeds else None
        cells = [f"{r.seed}{' (this run)' * (r.seed == own)} {r.diff:+.3f}" for r in at.itertuples()]
        return f"{dataset}: each fit's own blanket − all at {n_label(first['regime'], first['n'])}: " + "; ".join(cells)

    @property
    def datasets(self) -> list[str]:
        present = list(dict.fromkeys(self.comparisons["dataset"])) if not self.comparisons.empty else []
        return [d for d in present if d != ID_TEST] + ([ID_TEST] if ID_TEST in present else [])

    def blanket_line(self) -> str:
        oracle = self.oracle.get("column") or "none"
        labels = self.oracle.get("labels_seen") or "unknown"
        if not self.blanket:
            members = f"empty ({self.empty_reason})" if self.empty_reason else "empty"
        else:
            members = ", ".join(
                f"{m} {self.confidence[m]:.2f}" if m in self.confidence else m for m in self.blanket
            ) + (f" ({self.confidence_source})" if self.confidence else "")
        return f"blanket of {self.target}: {members}; target oracle {oracle}, which saw {labels}"

    def oracle_line(self, dataset: str) -> str:
        aurocs = self.oracle.get("auroc", {})
        found = aurocs.get(dataset)
        if not found:
            return "the oracle's AUROC was not measured"
        line = f"the oracle's own AUROC {found['auroc']:.3f} [{found['low']:.3f}, {found['high']:.3f}]"
        within = aurocs.get(ID_TEST)
        if dataset != ID_TEST and within and found["low"] > within["high"]:
            line += (
                f", above its {within['auroc']:.3f} in distribution: the set may be easier, or the oracle may have "
                "seen its sequences (docs/method.md §2)"
            )
        return line

    def dataset_lines(self, dataset: str) -> list[str]:
        """For one evaluation set: the blanket − all at every n, then the count of words over the baselines;
        over several fits, the per-seed rows (the method's answer) first and this run's fit alone last."""
        rows = _fits_first(self.comparisons[self.comparisons["dataset"] == dataset])
        lines = []
        for blanket, own in rows.groupby("blanket", sort=False):
            versus_all = own[own["reference"] == "all"]
            cells = [f"{n_label(r.regime, r.n)} {_cell(r)}" for r in ordered_by_n(versus_all).itertuples()]
            alone = " (this run's fit alone)" if blanket == "markov_blanket" and len(self.fit_seeds) > 1 else ""
            if cells:
                lines.append(f"{dataset}: {blanket}{alone} − all: " + "; ".join(cells))
            baselines = own[own["reference"] != "all"]
            if not baselines.empty:
                counts = baselines["verdict"].value_counts()
                words = ", ".join(f"{word} {counts.get(word, 0)}" for word in WORD_MARKS)
                fixed = " (this ensemble held fixed: the fits' variance is not in these words)" * (
                    blanket == "consensus_blanket"
                )
                lines.append(
                    f"{dataset}: {blanket} − each baseline ({', '.join(dict.fromkeys(baselines['reference']))}), "
                    f"Holm-adjusted over each n: {words} of {len(baselines)}{fixed}"
                )
            failed = own[own.get("failed", pd.Series(0, index=own.index)) > 0]
            if not failed.empty:
                lines.append(
                    f"{dataset}: {blanket}: failed selections, counted and left out of their comparisons: "
                    + "; ".join(f"{r.reference} {r.failed} at {n_label(r.regime, r.n)}" for r in failed.itertuples())
                )
        return lines

    def lines(self) -> list[str]:
        """The verdict as console lines."""
        out = [self.blanket_line(), *filter(None, [self.fits_line()])]
        if self.comparisons.empty:
            out.append("no blanket comparison was made: " + (self.empty_reason or "no blanket"))
        else:
            out.append(
                "intervals: 95 %; one fit's and the consensus's: crossed bootstrap over label subsamples and test "
                "rows; the per-seed blankets': a few-fit t interval that adds the fits' variance; words: Holm-adjusted "
                "over each n's comparisons, so an interval that just misses 0 can read = no detectable difference"
            )
        for dataset in self.datasets:
            out.append(f"{dataset}: {self.oracle_line(dataset)}")
            out.extend(self.dataset_lines(dataset))
            out.extend(filter(None, [self.per_fit_line(dataset)]))
        return out


VERDICT_BACKGROUNDS = {"better": "#dff0d8", "worse": "#f2dede", "no detectable difference": "#f5f5f5"}


def _verdict_table(verdict: Verdict, dataset: str) -> str:
    """The comparisons of one evaluation set: a row each, a column per n, cells shaded by their word."""
    rows = ordered_by_n(_fits_first(verdict.comparisons[verdict.comparisons["dataset"] == dataset]))
    columns = list(dict.fromkeys(n_label(r.regime, r.n) for r in rows.itertuples()))
    cells: dict[str, dict[str, str]] = {}
    for r in rows.itertuples():
        mark = WORD_MARKS.get(r.verdict, r.verdict).split(" ", 1)[0]
        cells.setdefault(f"{r.blanket} − {r.reference}", {})[n_label(r.regime, r.n)] = (
            f'<td style="background:{VERDICT_BACKGROUNDS.get(r.verdict, "#fff")}" title="{html.escape(r.verdict)}">'
            f"{r.diff:+.3f} {mark}<br><small>[{r.low:+.3f}, {r.high:+.3f}]</small></td>"
        )
    header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(row.get(c, "<td></td>") for c in columns) + "</tr>"
        for name, row in cells.items()
    )
    return (
        f'<table class="verdict" id="verdict-{html.escape(dataset)}"><tr><th>AUROC difference</th>{header}</tr>'
        f"{body}</table><p><small>▲ better, ▼ worse, = no detectable difference (Holm-adjusted, 0.05)</small></p>"
    )


def _fits_first(rows: pd.DataFrame) -> pd.DataFrame:
    """Comparisons with the per-seed rows (over every fit) first, the consensus next, one fit's last."""
    order = rows["blanket"].map(lambda b: 0 if b.startswith(PER_SEED) else 1 if b == "consensus_blanket" else 2)
    return rows.assign(_fits=order).sort_values("_fits", kind="stable").drop(columns="_fits")


def n_label(regime: str, n: int) -> str:
    """``n=16`` for a limited-label arm, ``all labels (2907)`` for the whole training split."""
    return f"n={n}" if regime == "limited" else f"all labels ({n})"


def _cell(row) -> str:
    return f"{row.diff:+.3f} [{row.low:+.3f}, {row.high:+.3f}] {WORD_MARKS.get(row.verdict, row.verdict)}"


def ordered_by_n(rows: pd.DataFrame) -> pd.DataFrame:
    """Comparisons in reading order: the limited regime by ``n``, then the whole training split."""
    order = rows["regime"].map({"limited": 0, "supervised": 1})
    return rows.assign(_order=order).sort_values(["_order", "n"], kind="stable").drop(columns="_order")


def per_fit_differences(summary: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Each fit's own blanket (``blanket_seed<s>``) − ``all``: the mean AUROC difference at every
    regime, evaluation set and n (both arms saw the same subsamples and rows, so the difference of
    the means is the mean paired difference). Columns: seed, regime, dataset, n, diff."""
    if summary.empty:
        return pd.DataFrame(columns=["seed", "regime", "dataset", "n", "diff"])
    keys = ["regime", "dataset", "n"]
    reference = summary[summary["feature_set"] == "all"].set_index(keys)["auroc_mean"]
    rows = []
    for seed in seeds:
        own = summary[summary["feature_set"] == f"blanket_seed{seed}"].set_index(keys)["auroc_mean"]
        for key, value in (own - reference).dropna().items():
            rows.append({"seed": seed, **dict(zip(keys, key)), "diff": float(value)})
    return pd.DataFrame(rows, columns=["seed", *keys, "diff"])


def read_verdict(run_dir: str | Path) -> Verdict | None:
    """The verdict of a finished run (``None`` when it has no predictor results)."""
    run = RunLayout(run_dir)
    run_dir = Path(run_dir)
    comparisons_path = run.results.comparisons
    if not comparisons_path.is_file():
        return None
    comparisons = pd.read_csv(comparisons_path)
    features = read_json(run.results.features) or {}
    oracle = read_json(run.results.oracle) or {}
    consensus = read_json(run.consensus.blanket)
    graph_blanket = read_json(run.graph.blanket) or {}
    if consensus is not None:
        blanket, confidence = consensus["blanket"], consensus.get("frequency", {})
        source = f"fraction of {consensus['n_graphs']} autoencoders"
        target = consensus["target"]
    else:
        blanket = graph_blanket.get("blanket", [])
        stability = read_json(run.graph.stability) or {}
        confidence = stability.get("blanket_frequency", {})
        source = f"fraction of {stability['n_boot']} bootstrap resamples" if stability else ""
        target = graph_blanket.get("target", "the target")
    notes = features.get("notes", {})
    empty_reason = notes.get("consensus_blanket" if consensus is not None else "markov_blanket")
    if not blanket and empty_reason is None:
        empty_reason = graph_blanket.get("reason")
    stability = read_json(run.consensus.stability) or {}
    seeds = [int(s) for s in stability.get("seeds") or []]
    summary = pd.read_csv(run.results.summary) if run.results.summary.is_file() else pd.DataFrame()
    if not summary.empty:  # the regimes and evaluation sets the comparisons are made on
        compared = summary["regime"].isin(["limited", "supervised"]) & summary["dataset"].isin(
            set(comparisons["dataset"])
        )
        summary = summary[compared]
    return Verdict(
        target=target,
        blanket=list(blanket),
        confidence={m: confidence[m] for m in blanket if m in confidence},
        confidence_source=source,
        empty_reason=empty_reason,
        oracle=oracle,
        comparisons=comparisons,
        not_compared=features.get("not_compared", []),
        fit_seeds=seeds,
        shipped_seeds=[int(s) for s in stability.get("shipped_seeds", [])],
        per_fit=per_fit_differences(summary, seeds) if seeds else pd.DataFrame(),
    )


def verdict_html(verdict: Verdict | None, forest_png: str, fits_png: str = "") -> str:
    """The report's first section: the question, the answer per evaluation set, the fits' strip
    (``fits_png``: each fit's own difference, the run's own marked), the forest plot."""
    if verdict is None:
        return '<h2 id="answer">Answer</h2><p class="missing">No predictor results in this run.</p>'
    parts = [
        '<h2 id="answer">Answer</h2>',
        f'<p class="question">{html.escape(QUESTION.format(target=verdict.target))}</p>',
        f'<p id="verdict-blanket"><b>{html.escape(verdict.blanket_line())}</b>.</p>',
    ]
    if verdict.fits_line():
        parts.append(f'<p id="verdict-fits">{html.escape(verdict.fits_line())}.</p>')
    if verdict.comparisons.empty:
        parts.append(
            '<p class="missing">No blanket comparison was made: '
            f"{html.escape(verdict.empty_reason or 'no blanket')}. "
            "The sets that need no blanket are still reported below.</p>"
        )
    oracle_rows = [
        {"evaluation set": name, "oracle AUROC": v["auroc"], "low": v["low"], "high": v["high"], "rows": v["n"]}
        for name, v in verdict.oracle.get("auroc", {}).items()
    ]
    if oracle_rows:
        parts.append(
            f"<p>The blanket is the blanket of the oracle <b>{html.escape(str(verdict.oracle.get('column')))}</b>, "
            "so it can be no better out of distribution than the oracle itself:</p>"
            + pd.DataFrame(oracle_rows).to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)
        )
    for dataset in verdict.datasets:
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in verdict.dataset_lines(dataset))
        where = "in distribution" if dataset == ID_TEST else "out of distribution"
        per_fit = verdict.per_fit_line(dataset)
        lines += f"<li>{html.escape(per_fit)}</li>" if per_fit else ""
        parts.append(f"<h3>{html.escape(dataset)} ({where})</h3><ul>{lines}</ul>" + _verdict_table(verdict, dataset))
    if fits_png:
        parts.append(
            "<p>Each fit's own blanket − all, fit by fit (the per-seed row averages them, its interval adds "
            "their spread): one fit's answer is one point of this strip, not the method's answer.</p>" + fits_png
        )
    if not verdict.comparisons.empty:
        parts.append(
            "<p>Each cell: the mean paired AUROC difference over label subsamples (n=…) or predictor seeds "
            "(all labels), its 95 % crossed-bootstrap interval (label subsamples and test rows resampled "
            "together), and the word of the Holm-adjusted test over that blanket's comparisons at that n. "
            "Selection baselines chose their features from the same labelled rows their predictor saw.</p>" + forest_png
        )
    if verdict.not_compared:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in verdict.not_compared)
        parts.append(
            f"<details><summary>Comparisons not made ({len(verdict.not_compared)})</summary><ul>{items}</ul></details>"
        )
    return "\n".join(parts)
