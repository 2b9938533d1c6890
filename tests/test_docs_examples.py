"""The runnable example in docs/python-api.md runs and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
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
