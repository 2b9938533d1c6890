"""Feature-set baselines (docs/method.md §6): which attributes each method hands the predictor.

Every function takes the ID training attributes ``x [n, m]`` (numpy), the labels ``y [n]`` and
the attribute names, and returns the chosen names. ``k`` is the size of the Markov blanket, so
the size-matched baselines compete on equal terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)


def lasso_features(x: np.ndarray, y: np.ndarray, names: list[str], k: int) -> list[str]:
    """The first ``k`` attributes to enter the L1 (lasso) path of ``y`` on standardised ``x``.

    The path is LARS's lasso variant (exact breakpoints, a few milliseconds for a dozen columns),
    so the selection can be repeated on every label subsample of the limited regime.
    """
    from sklearn.linear_model import lars_path

    xs, yc = _standardise(x), y.astype(float) - y.mean()
    _, _, coefs = lars_path(xs, yc, method="lasso")
    order: list[int] = []
    for step in range(coefs.shape[1]):  # breakpoints from large to small penalty: record when each enters
        for j in np.flatnonzero(coefs[:, step]):
            if j not in order:
                order.append(int(j))
    order += [j for j in np.argsort(-np.abs(coefs[:, -1]), kind="stable") if j not in order]
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
    """The label's blanket in the GES graph (BIC score) of the attributes plus the label: causal-learn's
    search, rewritten on sets in :mod:`~latentgraph.predictors.greedy_equivalence` (same CPDAG, 7× faster)."""
    from latentgraph.predictors.greedy_equivalence import ges

    data = _with_label(x, y, max_rows, seed)
    graph = ges(data)
    return [names[j] for j in sorted(cpdag_blanket(graph, data.shape[1] - 1))]


def _entropy(u: np.ndarray) -> np.ndarray:
    """The maximum-entropy approximation of a standardised variable's differential entropy
    (Hyvärinen, 1998), over the last axis: the measure DirectLiNGAM's pairwise test uses."""
    k1, k2, gamma = 79.047, 7.4129, 0.37457
    log_cosh = np.mean(np.logaddexp(u, -u) - np.log(2.0), axis=-1)
    gauss = np.mean(u * np.exp(-(u**2) / 2), axis=-1)
    return (1 + np.log(2 * np.pi)) / 2 - k1 * (log_cosh - gamma) ** 2 - k2 * gauss**2


def lingam_causal_order(x: np.ndarray) -> list[int]:
    """DirectLiNGAM's causal order with the pairwise likelihood-ratio measure (Shimizu et al., 2011;
    Hyvärinen and Smith, 2013), every pair of a step scored at once.

    At each step the most exogenous remaining variable is the one whose pairwise tests against
    all others favour it most, ``argmax_i −Σ_j min(0, ΔH(i, j))²``, and it is regressed out of the
    others. This is ``lingam.DirectLiNGAM``'s search (measure ``"pwling"``, no prior knowledge) as
    array operations instead of a Python loop over pairs: the same order (tested against it) in
    a fraction of the time, so the baseline can be rerun on every label subsample.
    """
    x = np.array(x, dtype=float)
    remaining = list(range(x.shape[1]))
    order: list[int] = []
    while len(remaining) > 1:
        u = x[:, remaining]
        z = ((u - u.mean(axis=0)) / u.std(axis=0)).T  # [q, n]
        c = np.cov(z, bias=True)  # correlations; the residual of z_i on z_j is z_i − c_ij·z_j
        residual = z[:, None, :] - c[:, :, None] * z[None, :, :]  # [i, j, n]
        with np.errstate(invalid="ignore", divide="ignore"):  # i = j: a zero residual, masked below
            scaled = residual / residual.std(axis=2, keepdims=True)
            h, hr = _entropy(z), _entropy(scaled)
        difference = (h[None, :] + hr) - (h[:, None] + hr.T)  # ΔH(i, j) = H(z_j) + H(r_i|j) − H(z_i) − H(r_j|i)
        np.fill_diagonal(difference, 0.0)
        score = -np.sum(np.minimum(0.0, difference) ** 2, axis=1)
        chosen = remaining[int(np.argmax(score))]
        for i in remaining:
            if i != chosen:
                xi, xm = x[:, i], x[:, chosen]
                x[:, i] = xi - np.cov(xi, xm, bias=True)[0, 1] / np.var(xm) * xm
        order.append(chosen)
        remaining.remove(chosen)
    return order + remaining


def lingam_adjacency(x: np.ndarray, blanket_of: int | None = None) -> np.ndarray:
    """DirectLiNGAM's weighted adjacency (``adjacency[i, j] ≠ 0``: ``j → i``): the causal order of
    :func:`lingam_causal_order`, then each variable's adaptive-lasso regression on its
    predecessors by ``lingam.utils.predict_adaptive_lasso``, as ``lingam.DirectLiNGAM`` fits it.

    With ``blanket_of``, only the rows that variable's Markov blanket reads are fitted: its own
    (its parents) and those of the variables after it in the order (only they can be its children,
    and their rows name its spouses); the rows before it stay zero. The blanket is the same, in
    about half the regressions."""
    from lingam.utils import predict_adaptive_lasso

    order = lingam_causal_order(x)
    start = 1 if blanket_of is None else max(1, order.index(blanket_of))
    adjacency = np.zeros((x.shape[1], x.shape[1]))
    for i in range(start, len(order)):
        adjacency[order[i], order[:i]] = predict_adaptive_lasso(x, order[:i], order[i])
    return adjacency


def lingam_features(
    x: np.ndarray, y: np.ndarray, names: list[str], *, seed: int = 0, max_rows: int = 3000
) -> list[str]:
    """The label's blanket in the DirectLiNGAM DAG of the attributes plus the label (:func:`lingam_adjacency`)."""
    data = _with_label(x, y, max_rows, seed)
    label = data.shape[1] - 1
    return [names[j] for j in sorted(adjacency_blanket(lingam_adjacency(data, blanket_of=label), label))]


@dataclass(frozen=True)
class Selector:
    """A selection baseline and its settings, called on numpy rows ``x [n, m]`` and labels ``y [n]``.

    It lives here, with the methods and nothing heavier, so the processes that run selections in
    parallel import this module alone (numpy, scikit-learn, causal-learn, lingam), not the pipeline.
    """

    method: str  # lasso, mutual_info, pc, ges or lingam
    names: tuple[str, ...]
    k: int | None = None  # the size, for lasso and mutual_info
    seed: int = 0

    def __call__(self, x: np.ndarray, y: np.ndarray) -> list[str]:
        names = list(self.names)
        if self.method == "lasso":
            return lasso_features(x, y, names, self.k)
        if self.method == "mutual_info":
            return mutual_info_features(x, y, names, self.k, seed=self.seed)
        if self.method == "pc":
            return pc_features(x, y, names, seed=self.seed)
        if self.method == "ges":
            return ges_features(x, y, names, seed=self.seed)
        if self.method == "lingam":
            return lingam_features(x, y, names, seed=self.seed)
        raise ValueError(f"unknown selection method {self.method!r}")


def select_safely(selector: Selector, x: np.ndarray, y: np.ndarray) -> list[str] | str:
    """The selector's choice, or the error's text when it cannot run on these rows (a singular
    matrix on 16 rows, say): the caller counts and reports it."""
    try:
        return selector(x, y)
    except (ValueError, np.linalg.LinAlgError) as error:
        return f"{type(error).__name__}: {error}"
