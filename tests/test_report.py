"""report.html: self-contained, with its sections; opened in headless Chromium (slow)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from conftest import FAST, compose_config
from omegaconf import open_dict

from latentgraph.cli.main import run
from latentgraph.report.html import write_report
from latentgraph.run_layout import RunLayout


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title, self.images, self.tables, self._in_title = "", [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self.tables.append(attrs.get("id"))

    def handle_endtag(self, tag):
        self._in_title = self._in_title and tag != "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    # four epochs and 64 base codes give the smoke run a blanket; the trained oracle adds its table
    overrides = ["trainer.max_epochs=4", "perturbation.n_base=64", "attributes=trained"]
    cfg = compose_config(["experiment=smoke", *FAST, "predictor.regime=all", *overrides])
    with open_dict(cfg):
        cfg.paths.run_dir = str(root / "run")
        cfg.paths.cache_dir = str(root / "cache")
    run(cfg)
    return root / "run"


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


def test_report_is_self_contained_with_every_section(run_dir):
    report = run_dir / "report.html"
    assert report.is_file()
    page = parse(report)
    assert page.title == f"latentgraph report: {run_dir.name}"
    expected = {"data-sources", "wae-metrics", "classifier-metrics", "sem-r2", "results", "comparisons"}
    assert expected | {"verdict-AMPvsTM", "verdict-id_test", "blanket-frequency"} <= set(page.tables)
    alts = [image["alt"] for image in page.images]
    assert alts == [
        "forest plot",
        "sensitivity heatmap",
        "latent to attribute graph and attribute DAG",
        "bootstrap frequencies",
        "limited-data curve",
        "few-shot curve",
    ]
    for image in page.images:  # every figure is embedded and decodes as a PNG
        assert image["src"].startswith("data:image/png;base64,")
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    text = report.read_text()
    assert 'id="blanket"' in text and "markov_blanket" in text and "seed: 0" in text
    # the answer comes first: the question, the blanket with its frequencies and the oracle's labels
    assert text.index('id="answer"') < text.index("<h2>Data</h2>")
    assert "the run&#x27;s whole ID training split" in text and "fraction of 50 bootstrap resamples" in text
    assert "file://" not in text and 'src="http' not in text  # nothing outside the page
    assert "Fitted in this run (training-code revision 1)" in text  # a fresh cache: nothing reused


def test_the_report_says_when_a_reused_fit_may_be_another_codes(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("wandb", "checkpoints"))
    stale = "it was fitted with training-code revision 0 (this code: 1)"
    (copy / "metrics" / "wae_provenance.json").write_text(
        json.dumps({"fit_revision": 0, "stored_at": "2026-11-30T12:54:00+00:00", "reused": True, "stale": stale})
    )
    text = write_report(copy).read_text()
    assert "Reused from the stage cache (stored 2026-11-30T12:54:00+00:00)" in text
    assert f"may not be the one this code would make: {stale}" in text


def test_a_missing_stage_is_said_not_hidden(run_dir, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial, ignore=shutil.ignore_patterns("results", "wandb", "checkpoints"))
    text = write_report(partial).read_text()
    assert "no results/ (the predictor stage did not run)" in text
    assert parse(partial / "report.html").title.startswith("latentgraph report")


@pytest.mark.slow
def test_report_in_headless_chromium(run_dir, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "needs Debian's chromium package (.ci/run installs it: apt-get install chromium)"
    url = (run_dir / "report.html").resolve().as_uri()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    page = Page()
    page.feed(dom)
    assert page.title == f"latentgraph report: {run_dir.name}" and "results" in page.tables
    assert len(page.images) == 6
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1300,3000", f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True
    )
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1300)
    # the figures are drawn: a good share of the page is neither white nor one flat colour
    coloured = (np.abs(pixels[..., :3] - 1.0).sum(axis=2) > 0.1).mean()
    assert coloured > 0.05, coloured


def test_the_run_layout_names_every_file_a_run_writes(run_dir):
    """latentgraph/run_layout.py owns the run directory: no file of a smoke run (every regime, a trained
    oracle) is outside it."""
    written = [path for path in run_dir.rglob("*") if path.is_file()]
    assert RunLayout(run_dir).report in written and RunLayout(run_dir).results.scores in written
    assert [path for path in written if not RunLayout(run_dir).owns(path)] == []


def test_explore_notebook_executes_against_a_smoke_run(run_dir, tmp_path, monkeypatch):
    """Opened in a project's notebooks/ folder without LATENTGRAPH_RUN_DIR, the notebook finds the
    newest run under the project's outputs/runs (not outputs/runs inside notebooks/)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "explore_run.ipynb", as_version=4)
    project = tmp_path / "project"
    (project / "outputs" / "runs").mkdir(parents=True)
    (project / "outputs" / "runs" / "2026-01-01_00-00-00").symlink_to(run_dir, target_is_directory=True)
    (project / "notebooks").mkdir()
    monkeypatch.delenv("LATENTGRAPH_RUN_DIR", raising=False)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(project / "notebooks")}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # graph, heatmap, limited curve
    texts = " ".join(o.get("text", "") + o.get("data", {}).get("text/html", "") for o in outputs)
    assert "target: amp" in texts and "ood_auroc" in texts and "latents have an edge" in texts


def test_curves_with_an_empty_series_or_no_rows_draw_without_failing(tmp_path):
    """An evaluation set the limited or few-shot regime could not score (too few rows, one class)
    gives a panel that says so instead of matplotlib's log-scale error; no rows give no figure."""
    from latentgraph.report.figures import fewshot_figure, limited_curve, save_png

    rows = []
    for dataset, auroc in (("id_test", 0.8), ("tiny", float("nan"))):
        for n in (16, 64):
            rows.append(
                {
                    "feature_set": "all",
                    "regime": "limited",
                    "dataset": dataset,
                    "n": n,
                    "auroc_mean": auroc,
                    "auroc_low": auroc,
                    "auroc_high": auroc,
                }
            )
    rows.append(
        {
            "feature_set": "all",
            "regime": "fewshot",
            "dataset": "tiny",
            "n": 8,
            "auroc_mean": float("nan"),
            "auroc_low": float("nan"),
            "auroc_high": float("nan"),
        }
    )
    summary = pd.DataFrame(rows)
    path = limited_curve(summary, tmp_path / "limited_curve.png")
    assert path is not None and path.stat().st_size > 0
    assert save_png(fewshot_figure(summary), tmp_path / "fewshot.png").stat().st_size > 0
    assert limited_curve(summary[summary["regime"] == "fewshot"], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
