"""Feature-set baselines (docs/method.md §6): which attributes each method hands the predictor.

Every function takes the ID training attributes ``x [n, m]`` (numpy), the labels ``y [n]`` and
the attribute names, and returns the chosen names. ``k`` is the size of the Markov blanket, so
the size-matched baselines compete on equal terms.
"""

from __future__ import annotations

import numpy as np


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)


def lasso_features(x: np.ndarray, y: np.ndarray, names: list[str], k: int) -> list[str]:
    """The first ``k`` attributes to enter the L1 (lasso) path of ``y`` on standardised ``x``."""
    from sklearn.linear_model import lasso_path

    xs, yc = _standardise(x), y.astype(float) - y.mean()
    alpha_max = max(float(np.abs(xs.T @ yc).max()) / len(yc), 1e-12)
    # collinear descriptors (length, molecular weight) converge slowly at the path's small alphas:
    # give coordinate descent the iterations it needs rather than stop it early
    _, coefs, _ = lasso_path(xs, yc, alphas=alpha_max * np.logspace(0, -4, 200), max_iter=100_000)
    order: list[int] = []
    for step in range(coefs.shape[1]):  # alphas from large to small: record when each enters
        for j in np.flatnonzero(coefs[:, step]):
            if j not in order:
                order.append(int(j))
    order += [j for j in np.argsort(-np.abs(coefs[:, -1])) if j not in order]
    return [names[j] for j in order[:k]]


def mutual_info_features(x: np.ndarray, y: np.ndarray, names: list[str], k: int, seed: int = 0) -> list[str]:
    """The ``k`` attributes with the highest estimated mutual information with ``y``."""
    from sklearn.feature_selection import mutual_info_classif

    scores = mutual_info_classif(x, y, random_state=seed)
    return [names[j] for j in np.argsort(-scores, kind="stable")[:k]]


def random_features(names: list[str], k: int, seed: int) -> list[str]:
    """``k`` attributes drawn at random (a different draw per seed)."""
    rng = np.random.default_rng(seed)
    return [names[j] for j in sorted(rng.choice(len(names), size=min(k, len(names)), replace=False))]


def cpdag_blanket(graph: np.ndarray, target: int) -> set[int]:
    """Markov blanket of ``target`` in a causal-learn graph matrix (PC's or GES's ``G.graph``).

    causal-learn encodes ``i → j`` as ``graph[i, j] = -1, graph[j, i] = 1`` and an undirected
    ``i — j`` as ``-1`` both ways. An undirected neighbour may be a parent or a child, so it is
    in the blanket; spouses are the other parents of the target's (directed) children.
    """

    def parents(node: int) -> set[int]:
        return {i for i in range(len(graph)) if graph[i, node] == -1 and graph[node, i] == 1}

    children = {j for j in range(len(graph)) if graph[target, j] == -1 and graph[j, target] == 1}
    undirected = {j for j in range(len(graph)) if j != target and graph[target, j] == -1 and graph[j, target] == -1}
    spouses = set().union(*(parents(c) for c in children)) if children else set()
    return (parents(target) | children | undirected | spouses) - {target}


def adjacency_blanket(adjacency: np.ndarray, target: int) -> set[int]:
    """Markov blanket in a weighted DAG ``adjacency[i, j] ≠ 0`` meaning ``j → i`` (LiNGAM's convention)."""
    nonzero = np.abs(adjacency) > 0
    parents = set(np.flatnonzero(nonzero[target]))
    children = set(np.flatnonzero(nonzero[:, target]))
    spouses = {int(p) for c in children for p in np.flatnonzero(nonzero[c])}
    return {int(i) for i in parents | children | spouses} - {target}


def _with_label(x: np.ndarray, y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    data = np.column_stack([_standardise(x), y.astype(float)])
    if len(data) > max_rows:
        data = data[np.random.default_rng(seed).choice(len(data), size=max_rows, replace=False)]
    return data


def pc_features(
    x: np.ndarray, y: np.ndarray, names: list[str], *, alpha: float = 0.05, seed: int = 0, max_rows: int = 3000
) -> list[str]:
    """The label's blanket in the PC graph (causal-learn, Fisher-z tests) of the attributes plus the label."""
    from causallearn.search.ConstraintBased.PC import pc

    data = _with_label(x, y, max_rows, seed)
    graph = pc(data, alpha, "fisherz", show_progress=False).G.graph
    return [names[j] for j in sorted(cpdag_blanket(graph, data.shape[1] - 1))]


def ges_features(x: np.ndarray, y: np.ndarray, names: list[str], *, seed: int = 0, max_rows: int = 1000) -> list[str]:
    """The label's blanket in the GES graph (causal-learn, BIC score) of the attributes plus the label."""
    from causallearn.search.ScoreBased.GES import ges

    data = _with_label(x, y, max_rows, seed)
    graph = ges(data)["G"].graph
    return [names[j] for j in sorted(cpdag_blanket(graph, data.shape[1] - 1))]


def lingam_features(
    x: np.ndarray, y: np.ndarray, names: list[str], *, seed: int = 0, max_rows: int = 3000
) -> list[str]:
    """The label's blanket in the DirectLiNGAM DAG (``lingam``) of the attributes plus the label."""
    from lingam import DirectLiNGAM

    data = _with_label(x, y, max_rows, seed)
    model = DirectLiNGAM(random_state=seed).fit(data)
    return [names[j] for j in sorted(adjacency_blanket(model.adjacency_matrix_, data.shape[1] - 1))]
