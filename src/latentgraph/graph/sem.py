"""Structural equations over the perturbation data (docs/method.md §5, "SEM fit").

Each attribute is regressed on its parents: its latent parents (the perturbed codes' values) and
its attribute parents in the DAG (their values on the same decodes). The rows are every scored
decode of the experiment: base codes and all their perturbations. R² is measured on a held-out
fifth of the rows, so a flexible model cannot score by memorising.
"""

from __future__ import annotations

import torch


def design_rows(
    base_codes: torch.Tensor, perturbed_codes: torch.Tensor, base_values: torch.Tensor, effects: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """All decodes as rows: codes ``[R, d]`` and attribute values ``[R, m]`` (rows with NaN removed)."""
    n, d, k, m = effects.shape
    values = torch.cat([base_values, (base_values[:, None, None, :] + effects).reshape(-1, m)])
    codes = torch.cat([base_codes, perturbed_codes.reshape(-1, d)])
    keep = torch.isfinite(values).all(dim=1)
    return codes[keep].to(torch.float64), values[keep].to(torch.float64)


R2_DECIMALS = 12  # the sums behind R² vary in their last bits with the arrays' memory alignment


def held_out_r2(x: torch.Tensor, y: torch.Tensor, *, model: str = "linear", seed: int = 0) -> float:
    """R² of ``y`` predicted from ``x`` on a held-out 20 % of rows (0 when ``x`` has no column).

    Rounded to 12 decimals: torch's vectorised sums take another order when an array starts at
    another memory address, so the unrounded value changes in its 16th digit from one run to the
    next, and a run's ``graph.json`` would not repeat byte for byte.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=generator)
    cut = max(1, len(y) // 5)
    test, train = order[:cut], order[cut:]
    if x.shape[1] == 0:
        prediction = torch.full_like(y[test], float(y[train].mean()))
    elif model == "linear":
        prediction = _linear_fit(x[train], y[train])(x[test])
    elif model == "mlp":
        prediction = _mlp_fit(x[train], y[train], generator)(x[test])
    else:
        raise ValueError(f"SEM model must be 'linear' or 'mlp', got {model!r}")
    residual = ((y[test] - prediction) ** 2).sum()
    total = ((y[test] - y[test].mean()) ** 2).sum()
    r2 = float(1 - residual / total) if total > 0 else (1.0 if residual <= 1e-12 else 0.0)
    return round(r2, R2_DECIMALS)


def _standardiser(x: torch.Tensor):
    mean, std = x.mean(dim=0), x.std(dim=0).clamp(min=1e-12)
    return lambda v: (v - mean) / std


def _linear_fit(x: torch.Tensor, y: torch.Tensor):
    scale = _standardiser(x)
    design = torch.cat([torch.ones(len(x), 1, dtype=x.dtype), scale(x)], dim=1)
    coef = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    return lambda v: torch.cat([torch.ones(len(v), 1, dtype=v.dtype), scale(v)], dim=1) @ coef


def _mlp_fit(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, *, hidden: int = 32, steps: int = 300):
    scale_x = _standardiser(x)
    y_mean, y_std = y.mean(), y.std().clamp(min=1e-12)
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)).double()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    inputs, targets = scale_x(x), ((y - y_mean) / y_std)[:, None]
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(net(inputs), targets)
        loss.backward()
        optimiser.step()
    return lambda v: (net(scale_x(v))[:, 0] * y_std + y_mean).detach()
