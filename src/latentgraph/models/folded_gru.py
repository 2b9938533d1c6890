"""The decoder GRU's first-layer input projection, folded into lookup tables (docs/method.md §3).

The decoder's input at step ``t`` is ``x_t = [emb(token_t) + pos(t); z]``, so the first layer's
input gates ``W_ih·x_t + b_ih`` split into three parts that need no matrix product per step:

    W_ih·x_t + b_ih = T_token[token_t] + T_pos[t] + (W_z·z + b_ih)

with ``T_token = E·W_e^T`` and ``T_pos = P·W_e^T`` (``W_ih = [W_e | W_z]``). The last term is
constant over a sequence, so it is computed once per code. What remains per step is the
recurrent product ``W_hh·h``. The functions here are pure and give the same gates as
``torch.nn.GRU`` to float tolerance (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class FoldedInput:
    """The first layer's input gates, by part: per (step, token), and per code."""

    step_token: torch.Tensor  # [steps, vocab, 3H]: T_token + T_pos[step]
    code: torch.Tensor  # [n, 3H]: W_z·z + b_ih

    def gates(self, tokens: torch.Tensor, step: int) -> torch.Tensor:
        """Input gates ``[n, 3H]`` for one step's tokens ``[n]`` (row ``i`` belongs to ``code[i]``)."""
        return self.step_token[step].index_select(0, tokens).add_(self.code)


def fold_input(
    gru: nn.GRU, embedding: nn.Embedding, position: nn.Embedding | None, z: torch.Tensor, steps: int
) -> FoldedInput:
    """The folded first-layer input projection of ``gru`` for codes ``z [n, d]`` and ``steps`` steps."""
    width = embedding.embedding_dim
    weight = gru.weight_ih_l0  # [3H, width + d]
    w_token, w_code = weight[:, :width], weight[:, width:]
    token = embedding.weight @ w_token.T  # [vocab, 3H]
    if position is None:
        step_token = token.expand(steps, -1, -1)
    else:
        step_token = token[None] + (position.weight[:steps] @ w_token.T)[:, None]
    return FoldedInput(step_token=step_token, code=torch.addmm(gru.bias_ih_l0, z, w_code.T))


def gru_cell(
    input_gates: torch.Tensor, hidden: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor
) -> torch.Tensor:
    """One GRU step from precomputed input gates ``[n, 3H]`` (PyTorch's gate order r, z, n).

    Works in place on its own intermediate tensors (decoding only: no autograd through it).
    """
    size = hidden.shape[1]
    gates = torch.addmm(bias_hh, hidden, weight_hh.T)  # W_hh·h + b_hh
    reset_update = gates[:, : 2 * size].add_(input_gates[:, : 2 * size]).sigmoid_()
    reset, update = reset_update[:, :size], reset_update[:, size:]
    candidate = torch.addcmul(input_gates[:, 2 * size :], reset, gates[:, 2 * size :]).tanh_()
    return torch.lerp(candidate, hidden, update)  # (1 - update)·candidate + update·hidden


def gru_step(
    gru: nn.GRU, first_input_gates: torch.Tensor, state: torch.Tensor | list[torch.Tensor]
) -> list[torch.Tensor]:
    """One step of every layer of ``gru``; the first layer's input gates come precomputed.

    Args:
        state: ``[layers, n, H]``, or a list of the layers' ``[n, H]`` states. Returns the new
            states as a list, one ``[n, H]`` per layer (no stacking copy per step); the last is
            the output.
    """
    layers: list[torch.Tensor] = []
    gates = first_input_gates
    for layer in range(gru.num_layers):
        if layer > 0:
            gates = torch.addmm(getattr(gru, f"bias_ih_l{layer}"), layers[-1], getattr(gru, f"weight_ih_l{layer}").T)
        hidden = gru_cell(gates, state[layer], getattr(gru, f"weight_hh_l{layer}"), getattr(gru, f"bias_hh_l{layer}"))
        layers.append(hidden)
    return layers
