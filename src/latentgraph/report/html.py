"""``report.html``: one self-contained page per run, built from the run directory's own files.

Every figure is embedded as a base64 PNG, so the page can be mailed or archived alone. A
section whose files are missing (a stage that was disabled or failed) says so instead of
disappearing.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from latentgraph.atomic import atomic_write_text, read_json
from latentgraph.predictors.regimes import read_ood_drop
from latentgraph.report.figures import fewshot_figure, fits_strip_figure
from latentgraph.report.verdict import Verdict, read_verdict, verdict_html
from latentgraph.run_layout import RunLayout

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: .8em; }
.missing { color: #a33; font-style: italic; }
.question { font-size: 1.1em; font-style: italic; }
table.verdict td { white-space: nowrap; font-size: .85em; text-align: center; }
"""


def _image(path: Path, alt: str) -> str:
    if not path.is_file():
        return f'<p class="missing">{html.escape(alt)}: not produced by this run ({path.name} missing)</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _figure_image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, table_id: str) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", table_id=table_id, border=0)


def _counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Count columns as integers: a source without a count gets 0, not a float column of 199.000."""
    numeric = frame.select_dtypes("number").columns
    return frame.assign(**{column: frame[column].fillna(0).astype(int) for column in numeric})


def _missing(what: str) -> str:
    return f'<p class="missing">{html.escape(what)}</p>'


def _provenance_note(provenance: dict | None) -> str:
    """Fitted here or reused from the cache, and whether the cached fit may be another code's."""
    if provenance is None:  # a run that stopped before its autoencoder stage
        return ""
    if provenance.get("custom"):  # model=custom
        return (
            f"<p>Your own autoencoder, <code>{html.escape(provenance['custom'])}</code> with arguments "
            f"<code>{html.escape(str(provenance['args']))}</code>; nothing fitted in this run.</p>"
        )
    if provenance.get("checkpoint"):  # model=pretrained model.checkpoint=PATH
        return (
            f"<p>Pre-trained, loaded from <code>{html.escape(provenance['checkpoint'])}</code> "
            f"(SHA-256 <code>{html.escape(provenance['sha256'])}</code>); nothing fitted in this run.</p>"
        )
    if not provenance["reused"]:
        return f"<p>Fitted in this run (training-code revision {provenance['fit_revision']}).</p>"
    stored = html.escape(str(provenance.get("stored_at", "before provenance was kept")))
    note = f"<p>Reused from the stage cache (stored {stored}).</p>"
    if provenance.get("stale"):
        note += _missing(
            f"The cached fit may not be the one this code would make: {provenance['stale']}. "
            "To refit, point LATENTGRAPH_CACHE to an empty folder."
        )
    return note


def _confidence_section(run_dir: Path) -> str:
    """The bootstrap frequencies of the target's blanket members (``graph/stability.json``)."""
    run = RunLayout(run_dir)
    stability = read_json(run.graph.stability)
    if stability is None:
        return "<h3>Graph confidence</h3>" + _missing("no bootstrap of this graph (graph.bootstrap=0)")
    rows = sorted(stability.get("blanket_frequency", {}).items(), key=lambda item: (-item[1], item[0]))
    frame = pd.DataFrame([{"attribute": a, "in the blanket (fraction of resamples)": f} for a, f in rows])
    return (
        f"<h3>Graph confidence</h3><p>{stability['n_boot']} bootstrap resamples of the base codes "
        f"(no new decodes); the blanket of <b>{html.escape(str(stability.get('target')))}</b>:</p>"
        + _table(frame, "blanket-frequency")
        + _image(run.graph.stability_picture, "bootstrap frequencies")
    )


def _consensus_section(run_dir: Path) -> str:
    """The ensemble's consensus (``consensus/stability.json``), when the run had one."""
    run = RunLayout(run_dir)
    stability = read_json(run.consensus.stability)
    if stability is None:
        return ""
    inclusion = stability.get("inclusion_probability", {})
    partial = stability.get("target_partial_correlation", {})
    rows = [
        {
            "attribute": a,
            "in the blanket (fraction of autoencoders)": f,
            **({"in a second ensemble's consensus (probability)": inclusion[a]} if a in inclusion else {}),
            **(
                {
                    "partial correlation with the target (mean ± sd)": _mean_sd(partial[a]),
                    "fits on the mean's side of 0": partial[a]["same_sign"],
                }
                if a in partial
                else {}
            ),
        }
        # most frequent first (the JSON file's keys are sorted by name)
        for a, f in sorted(stability["blanket_frequency"].items(), key=lambda item: (-item[1], item[0]))
    ]
    members = ", ".join(stability["blanket"]) or "empty"
    return (
        f"<h3>Consensus over {stability['n_graphs']} autoencoders</h3>"
        f'<p id="consensus">Consensus blanket of <b>{html.escape(str(stability["target"]))}</b> '
        f"(frequency ≥ {stability['threshold']}): {html.escape(members)}. Mean pairwise Jaccard index of "
        f"the single fits' blankets: {stability['mean_pairwise_jaccard']:.2f}"
        + _chance_note(stability)
        + "."
        + _reproducibility_note(stability)
        + "</p>"
        + _table(pd.DataFrame(rows), "consensus-frequency")
        + _image(run.consensus.stability_picture, "blanket and edge frequencies over autoencoders")
    )


def _mean_sd(summary: dict) -> str:
    return f"{summary['mean']:+.3f} ± {summary['sd']:.3f}"


def _chance_note(stability: dict) -> str:
    """Random blankets of the same sizes' agreement."""
    return f" (random blankets of the same sizes: {stability['chance_pairwise_jaccard']:.2f})"


def _reproducibility_note(stability: dict) -> str:
    """The bootstrap estimate of a second ensemble's agreement."""
    expected = stability["expected_reproducibility"]
    return (
        f" A second ensemble of {stability['n_graphs']} should give a consensus blanket with Jaccard "
        f"about {expected:.2f} to this one (resampling these fits; optimistic with few fits). Members "
        "with a probability far from 0 and 1 below are the ones a second ensemble may flip."
        + (
            " Their partial correlations with the target say why: one that keeps its sign in every fit is a "
            "small, consistent dependence that the test passes in some fits only; one that changes sign "
            "depends on the fit."
            if stability.get("target_partial_correlation")
            else ""
        )
    )


def write_report(run_dir: str | Path, config_yaml: str | None = None) -> Path:
    """Write ``run_dir/report.html`` from the run's files; returns its path.

    ``config_yaml`` is shown when the run directory has no ``.hydra/config.yaml`` (a run made
    from Python rather than the Hydra app).
    """
    run_dir = Path(run_dir)
    verdict = read_verdict(run_dir)
    parts = [
        f"<h1>latentgraph run {html.escape(run_dir.name)}</h1>",
        verdict_html(
            verdict, _image(RunLayout(run_dir).results.comparisons_picture, "forest plot"), _fits_strip(verdict)
        ),
        _data_section(run_dir),
        _autoencoder_section(run_dir),
        _graph_section(run_dir),
        _confidence_section(run_dir) + _consensus_section(run_dir),
        _predictor_section(run_dir),
        _config_section(run_dir, config_yaml),
    ]
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>latentgraph report: '
        f"{html.escape(run_dir.name)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    return atomic_write_text(RunLayout(run_dir).report, page)


def _fits_strip(verdict: Verdict | None) -> str:
    """The fits' strip (each fit's own blanket − all, the run's own fit marked), or nothing for one fit."""
    if verdict is None or len(verdict.fit_seeds) < 2:
        return ""
    figure = fits_strip_figure(verdict.per_fit, verdict.fit_seeds[0])
    return _figure_image(figure, "each fit's blanket − all") if figure is not None else ""


def _data_section(run_dir: Path) -> str:
    data = read_json(RunLayout(run_dir).data.summary)
    parts = ["<h2>Data</h2>"]
    if data:
        rows = [
            {"source": name, **{k: v for k, v in row.items() if k != "spec"}} for name, row in data["sources"].items()
        ]
        parts.append(_table(_counts(pd.DataFrame(rows)), "data-sources"))
        ids = data["id"]
        ood = ", ".join(f"{name} ({row['n']})" for name, row in data["ood"].items()) or "none"
        parts.append(
            f"<p>ID {html.escape(ids['name'])}: train {ids['train']}, val {ids['val']}, test {ids['test']}. "
            f"OOD: {html.escape(ood)}. "
            f"Autoencoder corpus: train {data['corpus']['train']}, val {data['corpus']['val']}. "
            f"Dropped bad records: {data['dropped']['total']} (see data/dropped.csv).</p>"
        )
        parts.append(_identity_table(data.get("identity")))
    else:
        parts.append(_missing("no data/summary.json"))
    return "\n".join(parts)


def _identity_table(identity: dict | None) -> str:
    """Each OOD set's nearest-neighbour identity to the ID training split and to the corpus."""
    if not identity:
        return "<p>OOD identity to the training data: not measured (data.identity=false).</p>"
    rows = []
    for name, found in identity["sets"].items():
        for reference, label in (("to_id_train", "ID training split"), ("to_corpus", "autoencoder corpus")):
            d = found[reference]
            if d.get("n"):
                row = {"OOD set": name, "nearest in": label, "n": d["n"], "mean": d["mean"], "median": d["q50"]}
                row.update({"90 %": d["q90"], "max": d["max"]})
                row.update({f"≥ {b}": count for b, count in d["at_least"].items()})
                rows.append(row)
        bound = identity.get("max_identity")
        if bound is not None:
            rows[-1]["dropped"] = f"{found['dropped']} above {bound}"
    note = (
        f"<p>How close each OOD sequence is to what the run trained on ({html.escape(identity['measure'])}): a "
        "near-copy leaks as an exact copy does. data.max_identity drops the sequences above a bound "
        "(data/identity_dropped.csv names them).</p>"
    )
    return "<h3>OOD identity to the training data</h3>" + note + _table(pd.DataFrame(rows), "data-identity")


def _autoencoder_section(run_dir: Path) -> str:
    run = RunLayout(run_dir)
    parts = ["<h2>Autoencoder</h2>"]
    wae = read_json(run.metrics.wae)
    parts.append(_table(pd.DataFrame([wae]), "wae-metrics") if wae else _missing("no metrics/wae.json"))
    parts.append(_provenance_note(read_json(run.metrics.wae_provenance)))
    classifiers = read_json(run.metrics.classifiers)
    if classifiers:
        rows = [
            {
                "classifier": name,
                "test AUROC": c["test_auroc"],
                **{f"{k} AUROC": v for k, v in c["ood_auroc"].items()},
                "reused": c["reused"],
            }
            for name, c in classifiers.items()
        ]
        parts.append("<h3>Attribute classifiers</h3>" + _table(pd.DataFrame(rows), "classifier-metrics"))
    return "\n".join(parts)


def _graph_section(run_dir: Path) -> str:
    run = RunLayout(run_dir)
    parts = [
        "<h2>Perturbation experiment and graph</h2>",
        _image(run.graph.sensitivity_heatmap, "sensitivity heatmap"),
        _image(run.graph.picture, "latent to attribute graph and attribute DAG"),
    ]
    blanket = read_json(run.graph.blanket)
    graph = read_json(run.graph.summary)
    if blanket:
        members = ", ".join(blanket["blanket"]) or "empty"
        fallback = f" Fallback: {blanket['fallback']} ({blanket['reason']})." if blanket["fallback"] else ""
        parts.append(
            f'<p id="blanket">Markov blanket of <b>{html.escape(str(blanket["target_node"]))}</b>: '
            f"{html.escape(members)}.{html.escape(fallback)}</p>"
        )
    if graph:
        parts.append(
            f"<p>{graph['latents_with_edges']} of {graph['latents']} latents have an edge; "
            f"{graph['latent_edges']} latent edges, {graph['attribute_edges']} attribute edges.</p>"
        )
        sem = pd.DataFrame([{"attribute": k, "SEM R² (held out)": v} for k, v in graph["sem_r2"].items()])
        parts.append(_table(sem, "sem-r2"))
    if not (blanket or graph):
        parts.append(_missing("no graph/ (perturbation.enabled=false?)"))
    return "\n".join(parts)


def _predictor_section(run_dir: Path) -> str:
    run = RunLayout(run_dir)
    parts = ["<h2>Predictors</h2>"]
    drops_path, summary_path = run.results.ood_drop, run.results.summary
    if not (drops_path.is_file() and summary_path.is_file()):
        parts.append(_missing("no results/ (the predictor stage did not run)"))
        return "\n".join(parts)
    drops = read_ood_drop(drops_path)
    if drops.empty:
        parts.append(
            "<p>No supervised or unsupervised predictors in this run (predictor.regime), so no table of "
            "ID against OOD AUROC.</p>"
        )
    else:
        shown = drops.assign(
            ID=[
                f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                for m, lo, hi in zip(drops["id_auroc"], drops["id_low"], drops["id_high"])
            ],
            OOD=[
                f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                for m, lo, hi in zip(drops["ood_auroc"], drops["ood_low"], drops["ood_high"])
            ],
        )[["feature_set", "regime", "dataset", "ID", "OOD", "drop"]]
        parts.append(
            "<p>AUROC, mean over predictor seeds, with its 95 % crossed-bootstrap interval (seeds and test "
            "rows resampled together).</p>" + _table(shown, "results")
        )
    parts.append(_image(run.results.limited_curve, "limited-data curve"))
    comparisons = run.results.comparisons
    if comparisons.is_file():
        parts.append(
            "<h3>Fixed comparisons</h3><p>Every comparison of the answer above, with its p-values "
            "(results/comparisons.csv).</p>" + _table(pd.read_csv(comparisons), "comparisons")
        )
    figure = fewshot_figure(pd.read_csv(summary_path))
    parts.append(_figure_image(figure, "few-shot curve") if figure else _missing("no few-shot rows"))
    return "\n".join(parts)


def _config_section(run_dir: Path, config_yaml: str | None) -> str:
    config = RunLayout(run_dir).hydra_config
    config_text = config.read_text() if config.is_file() else config_yaml
    return "<h2>Config</h2>\n" + (
        f"<pre>{html.escape(config_text)}</pre>" if config_text else _missing("no .hydra/config.yaml")
    )
