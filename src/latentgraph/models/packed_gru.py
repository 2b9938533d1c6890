"""A GRU over packed sequences with a hand-written backward, for training on CPUs (docs/method.md §3).

``torch.nn.GRU`` on CPU runs its recurrence as a chain of small autograd operations: every step
records a dozen nodes, and the backward pass spends more time filling, slicing and accumulating
gradient buffers than in the matrix products (a profile of a default training step: 33 % of its
time in GEMMs). On padded batches it also runs every row to the batch's widest sequence, though
about half of the positions are padding on the peptide corpus.

Here a layer is split in two:

* the input projection ``W_ih·x + b_ih`` of every real position at once, as one ``F.linear`` on
  the packed data (ordinary autograd);
* the recurrence, one :class:`torch.autograd.Function` that steps over time on the rows still
  running (``batch_sizes`` of a :class:`~torch.nn.utils.rnn.PackedSequence`: rows sorted by
  length, so the rows alive at step ``t`` are a prefix), saves its gates, and in backward walks
  the steps in reverse with one matrix product per step, then forms ``dW_hh`` as one product over
  all positions.

The equations are PyTorch's (gate order r, z, n; ``n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))``),
so the same ``nn.GRU`` parameters give the same outputs and gradients to float tolerance
(tests/test_packed_gru.py); checkpoints are unchanged. Padding positions are never computed,
which is also what the loss sees: it ignores them.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class _Recurrence(torch.autograd.Function):
    """``h_t = GRU(gi_t, h_{t-1})`` over packed input gates; returns every step's hidden state, packed.

    Shapes carry a leading direction axis ``D`` (1, or 2 for both directions of a one-layer
    BiGRU, which share their ``batch_sizes``): ``input_gates [D, N, 3H]``, ``h0 [D, B, H]``,
    ``weight_hh [D, 3H, H]``, ``bias_hh [D, 3H]``; the result is ``[D, N, H]``.

    Every per-step view is cut once, by ``split`` over ``batch_sizes``, before the loop: a step
    then costs a handful of kernel calls and no Python indexing (forward: one product and four
    elementwise calls; backward: one product and three).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        input_gates: torch.Tensor,
        batch_sizes: list[int],
        h0: torch.Tensor,
        weight_hh: torch.Tensor,
        bias_hh: torch.Tensor,
    ) -> torch.Tensor:
        size = h0.shape[2]
        directions, total = input_gates.shape[:2]
        # gates [D, N, 3H] starts as (x_r + b_hr, x_z + b_hz, b_hn); each step adds W_hh·h in place,
        # then r and z become their sigmoids and the n block stays W_hn·h + b_hn (the backward's)
        gates = torch.cat(
            [
                input_gates[..., : 2 * size] + bias_hh[:, None, : 2 * size],
                bias_hh[:, None, 2 * size :].expand(directions, total, size),
            ],
            dim=2,
        )
        out = input_gates.new_empty(directions, total, size)
        candidate = input_gates.new_empty(directions, total, size)
        weight_t = weight_hh.transpose(1, 2)
        gate_steps = gates.split(batch_sizes, 1)
        reset_update_steps = gates[..., : 2 * size].split(batch_sizes, 1)
        reset_steps = gates[..., :size].split(batch_sizes, 1)
        update_steps = gates[..., size : 2 * size].split(batch_sizes, 1)
        hidden_n_steps = gates[..., 2 * size :].split(batch_sizes, 1)
        input_n_steps = input_gates[..., 2 * size :].split(batch_sizes, 1)
        candidate_steps = candidate.split(batch_sizes, 1)
        out_steps = out.split(batch_sizes, 1)
        hidden = h0
        for t, rows in enumerate(batch_sizes):
            previous = hidden.narrow(1, 0, rows)
            gate_steps[t].baddbmm_(previous, weight_t)
            reset_update_steps[t].sigmoid_()
            new = torch.addcmul(
                input_n_steps[t], reset_steps[t], hidden_n_steps[t], out=candidate_steps[t]
            ).tanh_()  # n = tanh(x_n + r·(W_hn·h + b_hn))
            hidden = torch.lerp(new, previous, update_steps[t], out=out_steps[t])  # (1-u)·n + u·h
        ctx.batch_sizes = batch_sizes
        ctx.save_for_backward(h0, weight_hh, out, gates, candidate)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        h0, weight_hh, out, gates, candidate = ctx.saved_tensors
        batch_sizes: list[int] = ctx.batch_sizes
        size = h0.shape[2]
        directions, total = out.shape[:2]
        starts = [0, *accumulate(batch_sizes[:-1])]
        previous = _previous_states(h0, out, batch_sizes, starts)  # h_{t-1} of every position
        reset, update, hidden_n = gates[..., :size], gates[..., size : 2 * size], gates[..., 2 * size :]
        # the chain rule's per-position factors, in bulk: d(W_hh·h + b_hh) = dh · factor, by gate
        to_candidate = (1 - update).mul_(1 - candidate * candidate)  # dn_pre = dh·(1-u)·(1-n²)
        factor = torch.empty_like(gates)
        # dr_pre = dn_pre·(W_hn·h + b_hn)·r·(1-r);  du_pre = dh·(h-n)·u·(1-u);  d(W_hn·h + b_hn) = dn_pre·r
        torch.mul(to_candidate * hidden_n, reset * (1 - reset), out=factor[..., :size])
        torch.mul((previous - candidate).mul_(update), 1 - update, out=factor[..., size : 2 * size])
        torch.mul(to_candidate, reset, out=factor[..., 2 * size :])
        grad = grad_out.clone()  # becomes dh_t, the carry from step t+1 added in place
        grad_gates = torch.empty_like(gates)
        grad_steps = grad.split(batch_sizes, 1)
        grad_by_gate_steps = grad.unsqueeze(2).split(batch_sizes, 1)  # [D, rows, 1, H]
        factor_steps = factor.view(directions, total, 3, size).split(batch_sizes, 1)
        block_by_gate_steps = grad_gates.view(directions, total, 3, size).split(batch_sizes, 1)
        block_steps = grad_gates.split(batch_sizes, 1)
        update_steps = update.split(batch_sizes, 1)
        carry: torch.Tensor | None = None
        for t in range(len(batch_sizes) - 1, -1, -1):
            dh = grad_steps[t]
            if carry is not None:
                dh.narrow(1, 0, carry.shape[1]).add_(carry)
            torch.mul(grad_by_gate_steps[t], factor_steps[t], out=block_by_gate_steps[t])
            carry = torch.baddbmm(dh * update_steps[t], block_steps[t], weight_hh)  # dh_{t-1}
        grad_weight = grad_gates.transpose(1, 2) @ previous
        grad_bias = grad_gates.sum(1)
        grad_input = grad_gates  # r and z gates: the same gradient as the hidden ones
        torch.mul(grad, to_candidate, out=grad_input[..., 2 * size :])  # n: dn_pre
        grad_h0 = carry if carry is not None else torch.zeros_like(h0)
        if grad_h0.shape[1] < h0.shape[1]:  # rows of length 0 (not produced by pack_padded_sequence)
            grad_h0 = torch.cat([grad_h0, torch.zeros_like(h0[:, grad_h0.shape[1] :])], dim=1)
        return grad_input, None, grad_h0, grad_weight, grad_bias


def _recurrence(
    input_gates: torch.Tensor, batch_sizes: list[int], h0: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor
) -> torch.Tensor:
    """:class:`_Recurrence` in float32, also inside a mixed-precision autocast (its buffers are float32)."""
    with torch.autocast(device_type=input_gates.device.type, enabled=False):
        return _Recurrence.apply(input_gates.float(), batch_sizes, h0.float(), weight_hh.float(), bias_hh.float())


def _previous_states(h0: torch.Tensor, out: torch.Tensor, batch_sizes: list[int], starts: list[int]) -> torch.Tensor:
    """``h_{t-1}`` for every packed position ``[D, N, H]``: ``h0`` at step 0, else the previous step's prefix."""
    parts = [h0[:, : batch_sizes[0]]]
    parts += [out[:, starts[t - 1] : starts[t - 1] + batch_sizes[t]] for t in range(1, len(batch_sizes))]
    return torch.cat(parts, dim=1)


def _last_positions(batch_sizes: list[int], sorted_lengths: torch.Tensor) -> torch.Tensor:
    """The packed index of each sorted row's last step."""
    starts = torch.tensor([0] + list(batch_sizes[:-1]), device=sorted_lengths.device).cumsum(0)
    return starts[sorted_lengths - 1] + torch.arange(len(sorted_lengths), device=sorted_lengths.device)


def gru_packed(
    gru: nn.GRU,
    inputs: torch.Tensor,
    lengths: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    code: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A unidirectional ``batch_first`` ``gru`` over padded ``inputs [B, T, in]`` of given ``lengths``.

    Positions at or beyond a row's length are not computed. Returns ``(out, sorted_indices)``:
    the last layer's states of every real position, packed time-major ``[N, H]`` with rows sorted
    by length (row ``i`` of the packed order is row ``sorted_indices[i]`` of ``inputs``), as
    :func:`torch.nn.utils.rnn.pack_padded_sequence` lays them out.

    Args:
        h0: initial states ``[layers, B, H]`` in the rows' original order (zeros if ``None``).
        code: a per-row vector ``[B, c]`` that is part of every first-layer input, after
            ``inputs`` (the decoder's ``[emb; z]``): its input projection is computed once per
            row instead of once per position (the fold of :mod:`latentgraph.models.folded_gru`).
    """
    if gru.bidirectional or not gru.batch_first:
        raise ValueError("gru_packed runs unidirectional batch_first GRUs (bidirectional: bigru_last_states)")
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    batch_sizes = packed.batch_sizes.tolist()
    order = packed.sorted_indices.to(inputs.device)
    if h0 is None:
        h0 = inputs.new_zeros(gru.num_layers, inputs.shape[0], gru.hidden_size)
    data = packed.data
    for layer in range(gru.num_layers):
        weight_ih, bias_ih = getattr(gru, f"weight_ih_l{layer}"), getattr(gru, f"bias_ih_l{layer}")
        if layer == 0 and code is not None:
            width = inputs.shape[2]
            per_row = F.linear(code, weight_ih[:, width:], bias_ih).index_select(0, order)  # sorted rows
            rows = torch.cat([per_row[:size] for size in batch_sizes])  # each position's row
            input_gates = torch.addmm(rows, data, weight_ih[:, :width].t())
        else:
            input_gates = F.linear(data, weight_ih, bias_ih)  # every real position in one product
        data = _recurrence(
            input_gates[None],
            batch_sizes,
            h0[layer].index_select(0, order)[None],
            getattr(gru, f"weight_hh_l{layer}")[None],
            getattr(gru, f"bias_hh_l{layer}")[None],
        )[0]
    return data, order


def bigru_last_states(gru: nn.GRU, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A one-layer bidirectional ``batch_first`` ``gru``'s final states ``[B, 2H]`` (forward, backward).

    The same as ``torch.cat([h_n[0], h_n[1]], 1)`` of ``gru`` on the packed ``inputs [B, T, in]``:
    the forward direction's state after each row's last real position, the backward direction's
    after its first. Both directions step together (they share the packed layout: the backward one
    runs over each row's real positions reversed).
    """
    if not (gru.bidirectional and gru.batch_first and gru.num_layers == 1):
        raise ValueError("bigru_last_states runs one-layer bidirectional batch_first GRUs")
    both = torch.cat([inputs, reverse_padded(inputs, lengths)], dim=2)  # [B, T, 2·in]
    packed = pack_padded_sequence(both, lengths.cpu(), batch_first=True, enforce_sorted=False)
    batch_sizes = packed.batch_sizes.tolist()
    order = packed.sorted_indices.to(inputs.device)
    data = packed.data.view(-1, 2, inputs.shape[2]).transpose(0, 1)  # [2, N, in]
    weight_ih = torch.stack([gru.weight_ih_l0, gru.weight_ih_l0_reverse])
    bias_ih = torch.stack([gru.bias_ih_l0, gru.bias_ih_l0_reverse])
    input_gates = torch.baddbmm(bias_ih.unsqueeze(1), data, weight_ih.transpose(1, 2))
    h0 = inputs.new_zeros(2, inputs.shape[0], gru.hidden_size)
    out = _recurrence(
        input_gates,
        batch_sizes,
        h0,
        torch.stack([gru.weight_hh_l0, gru.weight_hh_l0_reverse]),
        torch.stack([gru.bias_hh_l0, gru.bias_hh_l0_reverse]),
    )
    last = out[:, _last_positions(batch_sizes, lengths.to(inputs.device).index_select(0, order))]  # [2, B, H]
    last = torch.cat([last[0], last[1]], dim=1)
    return torch.empty_like(last).index_copy_(0, order, last)  # back to the input order


def reverse_padded(inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``inputs [B, T, ...]`` with each row's first ``lengths[i]`` positions in reverse order."""
    positions = torch.arange(inputs.shape[1], device=inputs.device)[None]
    lengths = lengths.to(inputs.device)[:, None]
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return inputs.gather(1, index.view(*index.shape, *([1] * (inputs.dim() - 2))).expand_as(inputs))
