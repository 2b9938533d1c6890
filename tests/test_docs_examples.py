"""The runnable example in docs/python-api.md runs and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_python_api_example_runs_as_documented(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    example = next(block for block in blocks if "class BlockModel" in block)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(printed):
        exec(compile(example, str(DOC), "exec"), namespace)
    graph = namespace["graph"]
    assert sorted(graph.latent_edges) == [("z0", "K"), ("z0", "K_plus_E"), ("z1", "E"), ("z1", "K_plus_E")]
    assert sorted(graph.dag.edges) == [("E", "K_plus_E"), ("K", "K_plus_E")]
    assert graph.markov_blanket("K") == {"K_plus_E", "E"}
    assert (tmp_path / "perturbation_example" / "result.npz").is_file()
    assert (tmp_path / "graph_example" / "attribute_dag.graphml").is_file()
    for comment in re.findall(r"print\(sorted\((graph\.\w+(?:\.\w+)?)\)\)\s+# (\[.*\])", example):
        expression, expected = comment
        assert str(sorted(eval(expression, namespace))) == expected


def test_the_callback_recipe_runs_in_a_users_own_trainer(tmp_path, monkeypatch):
    """docs/python-api.md "The callback in your own Trainer": a plain Lightning Trainer, the callback's result."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    recipe = next(block for block in blocks if "PerturbationCallback(attributes=" in block)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(recipe, str(DOC), "exec"), namespace)
    result = namespace["result"]
    assert result is not None and tuple(result.effects.shape) == (32, 4, 2, 3)
    assert "(32, 4, 2, 3)" in printed.getvalue()
    assert namespace["trainer"].current_epoch == 2  # the callback ran at the end of the whole fit
    assert namespace["graph"].markov_blanket("net_charge") <= {"length", "hydrophobic_ratio"}


def test_the_whole_run_on_a_model_object_from_python(tmp_path, monkeypatch):
    """docs/python-api.md "The whole run on your model": run_pipeline on the page's toy model."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    example = next(block for block in blocks if "class BlockModel" in block)
    whole_run = next(block for block in blocks if "run_pipeline(BlockModel()" in block)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LATENTGRAPH_CACHE", str(tmp_path / "cache"))
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(example, str(DOC), "exec"), namespace)
        exec(compile(whole_run, str(DOC), "exec"), namespace)
    results = namespace["results"]
    run = tmp_path / "outputs" / "block-model-run"
    assert results.run_dir == Path("outputs/block-model-run") and (run / "report.html").is_file()
    assert results.blanket == json.loads((run / "graph" / "blanket.json").read_text())["blanket"] == []
    log = (run / "latentgraph.log").read_text()
    assert results.verdict and all(f"verdict: {line}" in log for line in results.verdict)
    assert list(results.comparisons.columns[:6]) == ["blanket", "reference", "regime", "dataset", "n", "diff"]
    provenance = json.loads((run / "metrics" / "wae_provenance.json").read_text())
    assert provenance["custom"].endswith("BlockModel") and provenance["reused"]  # nothing fitted
    assert "stage wae: your model" in log and "stage wae: computing" not in log
