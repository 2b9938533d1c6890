"""Greedy equivalence search (GES; Chickering, 2002) with the linear-Gaussian BIC score, on small
graphs held as Python sets (docs/method.md §6, the GES baseline).

causal-learn's ``ges`` (``score_func="local_score_BIC"``) is the reference: this module runs the
same search — the same operators in the same order, the same local score computed with the same
floating-point operations, the same stopping rule — and returns the same CPDAG (tested against
it). It exists because the fair limited-label protocol reruns GES on every label subsample (200
runs in a default run), and causal-learn's graph objects made GES the slowest baseline by far;
here a graph is three dicts of sets and a run takes milliseconds.

A CPDAG has directed edges ``a → b`` and undirected edges ``a — b``. After each operator the
partially directed graph is extended to a DAG (Dor and Tarsi, 1992) and completed again (the
DAG's v-structures, then Meek's rules 1–3), which gives the one CPDAG of the equivalence class
whichever extension is taken.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


class BicScore:
    """causal-learn's ``local_score_BIC_from_cov``: ``−n/2·(1 + log σ²) − λ·(|Pa| + 1)·log n``,
    σ² the residual variance of ``node`` on ``parents`` from the (ddof 0) covariance; cached."""

    def __init__(self, data: np.ndarray, penalty: float = 0.5):
        self.cov = np.cov(np.asarray(data, dtype=float).T, ddof=0)
        self.n = data.shape[0]
        self.penalty = penalty
        self.cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def __call__(self, node: int, parents: set[int]) -> float:
        key = (node, tuple(sorted(parents)))
        if key not in self.cache:
            self.cache[key] = self._local(node, list(key[1]))
        return self.cache[key]

    def _local(self, i: int, parents: list[int]) -> float:
        cov = self.cov
        sigma = cov[i, i]
        if parents:
            yx = cov[i : i + 1, parents]
            xx = cov[parents][:, parents]
            try:
                xx_inv = np.linalg.inv(xx)
            except np.linalg.LinAlgError:
                xx_inv = np.linalg.pinv(xx)
            sigma = float((cov[i, i] - yx @ xx_inv @ yx.T).item())
        if sigma <= 0:
            sigma = np.finfo(float).eps
        return -0.5 * self.n * (1 + np.log(sigma)) - self.penalty * (len(parents) + 1) * np.log(self.n)


class Pdag:
    """A partially directed graph: ``parents[b]`` and ``children[a]`` hold ``a → b``,
    ``neighbours`` the undirected edges."""

    def __init__(self, size: int):
        self.size = size
        self.parents: list[set[int]] = [set() for _ in range(size)]
        self.children: list[set[int]] = [set() for _ in range(size)]
        self.neighbours: list[set[int]] = [set() for _ in range(size)]

    def adjacent(self, node: int) -> set[int]:
        return self.parents[node] | self.children[node] | self.neighbours[node]

    def is_adjacent(self, a: int, b: int) -> bool:
        return b in self.parents[a] or b in self.children[a] or b in self.neighbours[a]

    def remove(self, a: int, b: int) -> None:
        for x, y in ((a, b), (b, a)):
            self.parents[x].discard(y)
            self.children[x].discard(y)
            self.neighbours[x].discard(y)

    def direct(self, a: int, b: int) -> None:
        """Make the edge ``a → b``, whatever was between them."""
        self.remove(a, b)
        self.children[a].add(b)
        self.parents[b].add(a)

    def undirect(self, a: int, b: int) -> None:
        self.remove(a, b)
        self.neighbours[a].add(b)
        self.neighbours[b].add(a)

    def is_clique(self, nodes: set[int]) -> bool:
        listed = list(nodes)
        return all(self.is_adjacent(a, b) for k, a in enumerate(listed) for b in listed[k + 1 :])

    def reaches(self, start: int, target: int, blocked: set[int]) -> bool:
        """Whether a semi-directed path (along ``→`` or ``—``) leads from ``start`` to ``target``
        through no node of ``blocked``."""
        seen, stack = {start}, [start]
        while stack:
            node = stack.pop()
            for nxt in self.children[node] | self.neighbours[node]:
                if nxt == target:
                    return True
                if nxt not in seen and nxt not in blocked:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def matrix(self) -> np.ndarray:
        """causal-learn's encoding: ``a → b`` is ``[a, b] = -1, [b, a] = 1``; ``a — b`` is ``-1`` both ways."""
        graph = np.zeros((self.size, self.size), dtype=int)
        for a in range(self.size):
            for b in self.children[a]:
                graph[a, b], graph[b, a] = -1, 1
            for b in self.neighbours[a]:
                graph[a, b] = graph[b, a] = -1
        return graph


def _subsets(items: set[int]) -> list[tuple[int, ...]]:
    """Every subset of ``items``, by size, then in ``itertools.combinations`` order of the sorted items."""
    ordered = sorted(items)
    return [subset for size in range(len(ordered) + 1) for subset in combinations(ordered, size)]


def _extension(graph: Pdag) -> list[set[int]]:
    """A DAG (each node's parents) that keeps the directed edges and orients the undirected ones
    without a new v-structure or cycle (Dor and Tarsi, 1992)."""
    parents = [set(p) for p in graph.parents]
    left = set(range(graph.size))
    while left:
        for x in sorted(left):
            if graph.children[x] & left:
                continue
            neighbours = graph.neighbours[x] & left
            adjacent = graph.adjacent(x) & left
            if all(adjacent - {y} <= graph.adjacent(y) for y in neighbours):
                parents[x] |= neighbours
                left.remove(x)
                break
        else:
            raise ValueError("the partially directed graph has no consistent extension")
    return parents


def _completed(parents: list[set[int]]) -> Pdag:
    """The CPDAG of a DAG: its v-structures directed, then Meek's rules 1–3 until nothing changes."""
    size = len(parents)
    graph = Pdag(size)
    for b in range(size):
        for a in parents[b]:
            graph.undirect(a, b)
    for b in range(size):
        for a, c in combinations(sorted(parents[b]), 2):
            if not graph.is_adjacent(a, c):
                graph.direct(a, b)
                graph.direct(c, b)
    changed = True
    while changed:
        changed = False
        for b in range(size):
            for c in sorted(graph.neighbours[b]):
                if c in graph.neighbours[b] and _meek_orients(graph, b, c):
                    graph.direct(b, c)
                    changed = True
    return graph


def _meek_orients(graph: Pdag, b: int, c: int) -> bool:
    """Whether Meek's rule 1, 2 or 3 orients the undirected ``b — c`` as ``b → c``."""
    if any(not graph.is_adjacent(a, c) for a in graph.parents[b]):  # rule 1: a → b — c, a ≁ c
        return True
    if graph.children[b] & graph.parents[c]:  # rule 2: b → a → c
        return True
    pointing = sorted(graph.neighbours[b] & graph.parents[c])  # rule 3: b — a → c, b — d → c, a ≁ d
    return any(not graph.is_adjacent(a, d) for a, d in combinations(pointing, 2))


def _best_insert(graph: Pdag, score: BicScore) -> tuple[float, tuple[int, int, tuple[int, ...]]] | None:
    """The insert ``i → j`` (with ``T``, the neighbours of ``j`` it orients into ``j``) that
    raises the score most: the first of the equal best in causal-learn's order."""
    best: tuple[float, tuple[int, int, tuple[int, ...]]] | None = None
    for i in range(graph.size):
        adjacent_i = graph.adjacent(i)
        for j in range(graph.size):
            if i == j or j in adjacent_i:
                continue
            common = graph.neighbours[j] & adjacent_i
            for subset in _subsets(graph.neighbours[j] - adjacent_i):
                blocking = common | set(subset)
                if not graph.is_clique(blocking):
                    continue
                kept = blocking | graph.parents[j]
                change = score(j, kept | {i}) - score(j, kept)
                # the path test, the dearest, only for an insert that would be the best so far
                if (best is None or change > best[0]) and not graph.reaches(j, i, blocking):
                    best = (change, (i, j, subset))
    return best


def _best_delete(graph: Pdag, score: BicScore) -> tuple[float, tuple[int, int, tuple[int, ...]]] | None:
    """The delete of ``i → j`` or ``i — j`` (with ``H``, the common neighbours it orients away)
    that raises the score most: the first of the equal best in causal-learn's order."""
    best: tuple[float, tuple[int, int, tuple[int, ...]]] | None = None
    for i in range(graph.size):
        adjacent_i = graph.adjacent(i)
        for j in range(graph.size):
            if j not in graph.neighbours[i] and i not in graph.parents[j]:
                continue
            common = graph.neighbours[j] & adjacent_i
            for subset in _subsets(common):
                rest = common - set(subset)
                if not graph.is_clique(rest):
                    continue
                kept = rest | graph.parents[j] | {i}
                change = score(j, kept - {i}) - score(j, kept)
                if best is None or change > best[0]:
                    best = (change, (i, j, subset))
    return best


def ges(data: np.ndarray, penalty: float = 0.5) -> np.ndarray:
    """The CPDAG GES finds for ``data [n, p]`` (columns are variables), in causal-learn's matrix
    encoding (:meth:`Pdag.matrix`): forward inserts while one raises the BIC score, then
    backward deletes while one raises it."""
    score = BicScore(data, penalty)
    graph = Pdag(data.shape[1])
    while (step := _best_insert(graph, score)) is not None and step[0] > 0:
        i, j, oriented = step[1]
        graph.direct(i, j)
        for t in oriented:
            graph.direct(t, j)
        graph = _completed(_extension(graph))
    while (step := _best_delete(graph, score)) is not None and step[0] > 0:
        i, j, oriented = step[1]
        graph.remove(i, j)
        for h in oriented:
            graph.direct(j, h)
            graph.direct(i, h)
        graph = _completed(_extension(graph))
    return graph.matrix()
