"""Reading what finished runs wrote, for the study scripts beside it that compare ensembles
(compare_ensembles.py, ensemble_size.py, target_partial_correlations.py, perturbation_design.py),
which import it from their own folder."""

from __future__ import annotations

import json
from pathlib import Path

from latentgraph.errors import DataError
from latentgraph.run_layout import RunLayout


def consensus_stability(run: Path) -> dict:
    """A finished ensemble run's ``consensus/stability.json``; an error naming the run without one."""
    path = RunLayout(run).consensus.stability
    if not path.is_file():
        raise DataError(f"{run}: no consensus/stability.json (run it with ensemble.size=R or stage=consensus)")
    return json.loads(path.read_text())


def classifier_keys(run: Path) -> dict[str, str] | None:
    """Classifier name → cache key, from the run's ``metrics/classifiers.json`` (None without one)."""
    path = RunLayout(run).metrics.classifiers
    if not path.is_file():
        return None
    return {name: entry["cache_key"] for name, entry in json.loads(path.read_text()).items()}
