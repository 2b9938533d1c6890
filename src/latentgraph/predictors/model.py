"""The attribute predictor (docs/method.md §6): logistic regression or a small MLP on standardised attributes."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from torchmetrics.functional.classification import binary_accuracy, binary_auroc, binary_average_precision
from typing_extensions import override

from latentgraph.binary_module import BinaryClassifierModule


class AttributePredictor(BinaryClassifierModule):
    """Binary predictor of a target from attribute features ``[n, k]``.

    The features are standardised with the training set's mean and standard deviation, kept as
    buffers, so the module takes raw attribute values.

    Args:
        n_features: number of input attributes ``k``.
        model: ``"logistic"`` (one linear layer) or ``"mlp"`` (one hidden layer of ``hidden``).
        lr, weight_decay: AdamW settings.
    """

    def __init__(
        self,
        *,
        n_features: int,
        model: str = "logistic",
        hidden: int = 32,
        lr: float = 1e-2,
        weight_decay: float = 1e-3,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        if model == "logistic":
            self.net = nn.Linear(n_features, 1)
        elif model == "mlp":
            self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        else:
            raise ValueError(f"predictor model must be 'logistic' or 'mlp', got {model!r}")
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set_standardisation(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0).clamp(min=1e-8) if len(x) > 1 else torch.ones(x.shape[1]))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[n]``."""
        return self.net(self.standardise(x)).squeeze(1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        was_training = self.training
        self.eval()
        out = torch.sigmoid(self(x.to(self.mean.dtype)))
        self.train(was_training)
        return out


def _copy_for_fine_tuning(predictor: AttributePredictor, lr: float) -> AttributePredictor:
    """A copy of ``predictor`` (weights and standardisation) whose optimiser will use ``lr``."""
    copy_ = AttributePredictor(**{**predictor.hparams, "lr": lr})
    copy_.load_state_dict(predictor.state_dict())
    return copy_


def _adamw(predictor: AttributePredictor, params: list[torch.Tensor] | None = None) -> torch.optim.AdamW:
    """The predictor's AdamW (its ``lr`` and ``weight_decay``), fused: one kernel a step over all parameters."""
    params = list(predictor.parameters()) if params is None else params
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(params, lr=predictor.hparams.lr, weight_decay=predictor.hparams.weight_decay, fused=fused)


def fit_predictor(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    val: tuple[torch.Tensor, torch.Tensor] | None,
    seed: int,
    model: str = "logistic",
    max_steps: int = 500,
    patience: int = 25,
    lr: float = 1e-2,
    init_from: AttributePredictor | None = None,
    l2: float = 0.0,
) -> AttributePredictor:
    """Train a predictor full-batch with AdamW; early stopping on the validation loss.

    Every feature set gets this same budget: at most ``max_steps`` full-batch steps, stopping
    after ``patience`` steps without a better validation loss and restoring the best weights.
    Without ``val`` (few-shot fine-tuning) it runs ``max_steps`` steps. ``init_from`` fine-tunes
    a copy of an existing predictor and keeps its standardisation. ``l2`` adds ``l2 · Σ w²`` over
    the weights (not the biases) to the loss: the limited regime's stated prior, which with
    ``l2 = 1 / (2·C·n)`` is the objective of an L2 logistic regression with inverse strength ``C``
    (scikit-learn's convention) divided by ``C·n``.

    The loop is plain PyTorch rather than ``Trainer.fit``: with a few thousand rows and a handful
    of features a step takes well under a millisecond, and Lightning's per-epoch bookkeeping
    made each fit many times slower (docs/benchmarks.md). The module itself is a LightningModule
    and trains under a Trainer as well (tested).
    """
    torch.manual_seed(seed)
    if init_from is not None:
        predictor = _copy_for_fine_tuning(init_from, lr)
    else:
        predictor = AttributePredictor(n_features=x.shape[1], model=model, lr=lr)
        predictor.set_standardisation(x.float())
    optimiser = _adamw(predictor)
    # the features standardised once (what predictor(x) does on every call), then the net alone
    z, y = predictor.standardise(x.float()), y.float()
    val_z, val_y = (predictor.standardise(val[0].float()), val[1].float()) if val is not None else (None, None)
    weights = [w for name, w in predictor.named_parameters() if name.endswith("weight")]
    best_loss, best_state, since_best = float("inf"), None, 0
    predictor.train()
    for _ in range(max_steps):
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(predictor.net(z).squeeze(1), y)
        if l2 > 0:
            loss = loss + l2 * sum((w**2).sum() for w in weights)
        loss.backward()
        optimiser.step()
        if val_z is None:
            continue
        with torch.no_grad():
            loss = float(F.binary_cross_entropy_with_logits(predictor.net(val_z).squeeze(1), val_y))
        if loss < best_loss - 1e-6:
            best_loss, best_state, since_best = loss, {k: v.clone() for k, v in predictor.state_dict().items()}, 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    if best_state is not None:
        predictor.load_state_dict(best_state)
    return predictor.eval()


def fit_predictor_batch(
    x: torch.Tensor | Sequence[torch.Tensor],
    y: torch.Tensor | Sequence[torch.Tensor],
    *,
    seeds: list[int],
    model: str = "logistic",
    max_steps: int = 500,
    lr: float = 1e-2,
    l2: float | Sequence[float] = 0.0,
    val: tuple[torch.Tensor | Sequence[torch.Tensor], torch.Tensor] | None = None,
    patience: int = 25,
    init_from: list[AttributePredictor] | None = None,
) -> list[AttributePredictor]:
    """``S`` independent fits of :func:`fit_predictor`, run as one batched fit.

    ``x`` is ``[S, n, k]`` and ``y`` is ``[S, n]``, or lists of ``S`` fits' own ``[n_s, k_s]`` and
    ``[n_s]`` (each fit its own rows and its own features: the batch pads them, and a padded row
    or column changes nothing). Fit ``s`` sees only its own rows, starts from the weights
    ``fit_predictor(..., seed=seeds[s])`` would draw (or, with ``init_from``, from
    ``init_from[s]``'s weights and standardisation), keeps its own standardisation, its own L2
    strength (``l2`` a number or one per fit) and takes full-batch AdamW steps on its own loss (the
    summed loss has a block-diagonal gradient and AdamW is elementwise; a padded weight has no
    gradient and stays 0). With ``val`` (features ``[S, n_val, k]`` or a list of ``[n_val, k_s]``,
    labels ``[S, n_val]``) each fit stops as ``fit_predictor`` stops, after ``patience`` steps
    without a better validation loss, and keeps its best weights; the batch steps on until the
    last fit has stopped, and a stopped fit's later steps are ignored. Each returned predictor
    therefore equals the one ``fit_predictor`` fits on the same data, to float summation order
    (tests/test_predictors.py), in a fraction of the time: a fit of a few features is bound by
    per-step overhead, which the batch pays once for all ``S`` (docs/benchmarks.md).
    """
    xs, ys = _fits(x, y, len(seeds))
    if init_from is not None and len(init_from) != len(seeds):
        raise ValueError(f"init_from holds {len(init_from)} predictors for {len(seeds)} seeds")
    rows = torch.tensor([len(r) for r in ys])
    widths = [r.shape[1] for r in xs]
    x, y, mask = _padded(xs, ys)
    predictors = _starting_predictors(widths, seeds, model, lr, init_from)
    if init_from is None:
        mean, std = _masked_standardisation(x, mask, rows)
    else:
        mean = _padded([p.mean[None] for p in predictors], None)[0]
        std = _padded([p.std[None] for p in predictors], None)[0] + (1 - _column_mask(widths, x.shape[2]))[:, None]
    z = (x - mean) / std * _column_mask(widths, x.shape[2])[:, None]  # padded columns exactly 0
    val_z = val_y = None
    if val is not None:
        val_x = val[0] if isinstance(val[0], torch.Tensor) else _padded(list(val[0]), None)[0]
        val_z, val_y = (val_x.float() - mean) / std * _column_mask(widths, x.shape[2])[:, None], val[1].float()
    # the S nets' parameters, padded to the widest fit and stacked along a leading axis
    stacked = _stacked_parameters([p.net for p in predictors], x.shape[2])
    logits = _batched_logits(predictors[0].hparams.model, x.shape[2])  # init_from sets the model
    strength = torch.as_tensor(l2, dtype=torch.float32).expand(len(seeds))
    final = _adamw_steps(
        stacked, logits, _adamw(predictors[0], list(stacked.values())), z, y, mask, rows, strength,
        (val_z, val_y), max_steps, patience,
    )  # fmt: skip
    with torch.no_grad():
        for s, predictor in enumerate(predictors):
            for name, param in predictor.net.named_parameters():
                param.copy_(final[name][s][..., : param.shape[-1]])  # an input weight drops its padding
            predictor.mean.copy_(mean[s, 0, : widths[s]])
            predictor.std.copy_(std[s, 0, : widths[s]])
    return [predictor.eval() for predictor in predictors]


def _batched_logits(model: str, width: int) -> Callable[[dict, torch.Tensor], torch.Tensor]:
    """``logits(stacked_params, rows)`` for ``S`` nets at once: one batched product for the logistic
    model (the same logits as ``vmap``, without its per-call cost), ``vmap`` of the MLP otherwise."""

    def logistic(params: dict, rows_: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(params["bias"].unsqueeze(-1), rows_, params["weight"].transpose(1, 2)).squeeze(-1)

    # built for either model, as before the split: building it draws from torch's global generator
    template = copy.deepcopy(AttributePredictor(n_features=width, model=model).net).to("meta")
    if model == "logistic":
        return logistic

    def one_net(params: dict, rows_: torch.Tensor) -> torch.Tensor:
        return functional_call(template, params, (rows_,)).squeeze(-1)

    return vmap(one_net)


def _adamw_steps(
    stacked: dict[str, torch.Tensor],
    logits: Callable[[dict, torch.Tensor], torch.Tensor],
    optimiser: torch.optim.Optimizer,
    z: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    rows: torch.Tensor,
    strength: torch.Tensor,
    val: tuple[torch.Tensor | None, torch.Tensor | None],
    max_steps: int,
    patience: int,
) -> dict[str, torch.Tensor]:
    """Full-batch AdamW on the summed loss of every fit; each fit stops early on its own validation
    loss (if ``val``) and keeps its best weights. Returns the parameters to keep, stacked."""
    val_z, val_y = val
    weights = [w for name, w in stacked.items() if name.endswith("weight")]
    best = {name: param.detach().clone() for name, param in stacked.items()}
    best_loss = torch.full((len(strength),), math.inf)
    since_best = torch.zeros(len(strength), dtype=torch.long)
    running = torch.ones(len(strength), dtype=torch.bool)  # fits that have not stopped early
    for _ in range(max_steps):
        optimiser.zero_grad()
        per_row = F.binary_cross_entropy_with_logits(logits(stacked, z), y, reduction="none")
        loss = ((per_row * mask).sum(dim=1) / rows).sum()
        if bool((strength > 0).any()):
            loss = loss + sum((strength * (w**2).flatten(1).sum(dim=1)).sum() for w in weights)
        loss.backward()
        optimiser.step()
        if val_z is None:
            continue
        with torch.no_grad():
            losses = F.binary_cross_entropy_with_logits(logits(stacked, val_z), val_y, reduction="none").mean(dim=1)
            better = running & (losses < best_loss - 1e-6)
            for name, param in stacked.items():
                best[name][better] = param[better]
            best_loss = torch.where(better, losses, best_loss)
            since_best = torch.where(better, 0, since_best + running.long())
            running &= since_best < patience
        if not bool(running.any()):
            break
    return best if val_z is not None else stacked


def _starting_predictors(
    widths: list[int], seeds: list[int], model: str, lr: float, init_from: list[AttributePredictor] | None
) -> list[AttributePredictor]:
    """Each fit's predictor before its first step: the weights ``fit_predictor`` draws at its seed,
    or a copy of the predictor it fine-tunes."""
    predictors = []
    for s, seed in enumerate(seeds):
        torch.manual_seed(seed)
        if init_from is None:
            predictors.append(AttributePredictor(n_features=widths[s], model=model, lr=lr))
        else:
            predictors.append(_copy_for_fine_tuning(init_from[s], lr))
    return predictors


def _fits(
    x: torch.Tensor | Sequence[torch.Tensor], y: torch.Tensor | Sequence[torch.Tensor], count: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The ``S`` fits' features and labels as lists, checked against one another and the seeds."""
    if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
        if x.ndim != 3 or y.shape != x.shape[:2] or count != x.shape[0]:
            shapes = f"x {tuple(x.shape)}, y {tuple(y.shape)}, {count} seeds"
            raise ValueError(f"expected x [S, n, k], y [S, n] and S seeds; got {shapes}")
    xs, ys = [r.float() for r in x], [r.float() for r in y]
    if len(xs) != count or len(ys) != count or any(a.ndim != 2 or len(a) != len(b) for a, b in zip(xs, ys)):
        raise ValueError(f"expected x [S, n, k], y [S, n] and S seeds; got {len(xs)} x, {len(ys)} y, {count} seeds")
    return xs, ys


def _padded(xs: list[torch.Tensor], ys: list[torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[S, n_max, k_max]`` features (zeros past each fit's rows and columns), ``[S, n_max]``
    labels and the ``[S, n_max]`` mask of real rows."""
    n_max, k_max = max(len(r) for r in xs), max(r.shape[1] for r in xs)
    x = torch.zeros(len(xs), n_max, k_max)
    mask = torch.zeros(len(xs), n_max)
    for s, rows in enumerate(xs):
        x[s, : len(rows), : rows.shape[1]] = rows
        mask[s, : len(rows)] = 1
    y = torch.zeros(len(xs), n_max)
    for s, labels in enumerate(ys or []):
        y[s, : len(labels)] = labels
    return x, y, mask


def _column_mask(widths: list[int], k_max: int) -> torch.Tensor:
    """``[S, k_max]``: 1 on each fit's own features, 0 on padding."""
    return (torch.arange(k_max)[None] < torch.tensor(widths)[:, None]).float()


def _masked_standardisation(
    x: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each fit's feature means and standard deviations (unbiased, as ``Tensor.std``) over its own
    rows, ``[S, 1, k]``; a one-row fit gets a standard deviation of 1, a padded column 1."""
    m = mask[:, :, None]
    count = rows[:, None, None].float()
    mean = (x * m).sum(dim=1, keepdim=True) / count
    var = (((x - mean) * m) ** 2).sum(dim=1, keepdim=True) / (count - 1).clamp(min=1)
    std = torch.where(count > 1, var.sqrt().clamp(min=1e-8), torch.ones_like(var))
    return mean, std


def _stacked_parameters(nets: list[nn.Module], k_max: int) -> dict[str, torch.Tensor]:
    """The nets' parameters stacked along a new leading axis, the input weight (``[out, k]``, the
    first parameter) padded with zero columns to ``k_max`` features; leaves that the optimiser steps."""
    stacked = {}
    for position, name in enumerate(dict(nets[0].named_parameters())):
        params = [dict(net.named_parameters())[name].detach() for net in nets]
        if position == 0:
            params = [F.pad(p, (0, k_max - p.shape[1])) for p in params]
        stacked[name] = torch.stack(params).requires_grad_(True)
    return stacked


def evaluate_predictor(predictor: AttributePredictor, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """AUROC, AUPRC and accuracy (threshold 0.5); AUROC and AUPRC are NaN for a single-class set."""
    return probability_metrics(predictor.predict_proba(x), y)


def probability_metrics(p: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """:func:`evaluate_predictor`'s metrics of probabilities ``p`` already computed."""
    labels = y.long()
    two_classes = labels.unique().numel() == 2
    return {
        "auroc": float(binary_auroc(p, labels)) if two_classes else float("nan"),
        "auprc": float(binary_average_precision(p, labels)) if two_classes else float("nan"),
        "acc": float(binary_accuracy(p, labels)),
    }
