"""The packed GRU (latentgraph.models.packed_gru) computes what torch.nn.GRU computes, gradients included."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from latentgraph.data.alphabet import tokenize
from latentgraph.models.packed_gru import bigru_last_states, gru_packed, reverse_padded
from latentgraph.models.wae import SequenceWAE

LENGTHS = [7, 1, 3, 7, 5, 2]  # a full-width row, a one-step row, ties


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_packed_equals_nn_gru_with_gradients(layers):
    torch.manual_seed(0)
    gru = nn.GRU(5, 6, num_layers=layers, batch_first=True)
    lengths = torch.tensor(LENGTHS)
    inputs = torch.randn(len(LENGTHS), 7, 5, requires_grad=True)
    h0 = torch.randn(layers, len(LENGTHS), 6, requires_grad=True)
    reference, _ = gru(pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False), h0)
    weights = torch.randn_like(reference.data)
    wrt = [inputs, h0, *gru.parameters()]
    expected = torch.autograd.grad((reference.data * weights).sum(), wrt)

    out, order = gru_packed(gru, inputs, lengths, h0)

    assert torch.equal(order, reference.sorted_indices)
    assert torch.allclose(out, reference.data, atol=1e-6)
    for got, want in zip(torch.autograd.grad((out * weights).sum(), wrt), expected):
        assert _relative_error(got, want) < 1e-5


def test_a_per_row_code_is_the_same_as_appending_it_to_every_input():
    torch.manual_seed(1)
    gru = nn.GRU(4 + 3, 5, batch_first=True)
    lengths = torch.tensor(LENGTHS)
    embedded = torch.randn(len(LENGTHS), 7, 4, requires_grad=True)
    code = torch.randn(len(LENGTHS), 3, requires_grad=True)
    appended, _ = gru_packed(gru, torch.cat([embedded, code[:, None].expand(-1, 7, -1)], dim=2), lengths)
    folded, _ = gru_packed(gru, embedded, lengths, code=code)
    assert torch.allclose(folded, appended, atol=1e-6)
    weights = torch.randn_like(appended)
    wrt = [embedded, code, gru.weight_ih_l0, gru.bias_ih_l0]
    expected = torch.autograd.grad((appended * weights).sum(), wrt)
    for got, want in zip(torch.autograd.grad((folded * weights).sum(), wrt), expected):
        assert _relative_error(got, want) < 1e-5


def test_bigru_last_states_equal_nn_grus_final_states_with_gradients():
    torch.manual_seed(2)
    gru = nn.GRU(4, 6, batch_first=True, bidirectional=True)
    lengths = torch.tensor(LENGTHS)
    inputs = torch.randn(len(LENGTHS), 7, 4, requires_grad=True)
    _, final = gru(pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False))
    reference = torch.cat([final[0], final[1]], dim=1)
    weights = torch.randn_like(reference)
    wrt = [inputs, *gru.parameters()]
    expected = torch.autograd.grad((reference * weights).sum(), wrt)

    states = bigru_last_states(gru, inputs, lengths)

    assert torch.allclose(states, reference, atol=1e-6)
    for got, want in zip(torch.autograd.grad((states * weights).sum(), wrt), expected):
        assert _relative_error(got, want) < 1e-5


def test_reverse_padded_reverses_only_each_rows_real_positions():
    rows = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_padded(rows, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


def test_the_packed_functions_refuse_grus_they_do_not_run():
    with pytest.raises(ValueError, match="unidirectional"):
        gru_packed(nn.GRU(2, 3, batch_first=True, bidirectional=True), torch.zeros(1, 2, 2), torch.tensor([2]))
    with pytest.raises(ValueError, match="one-layer bidirectional"):
        deep = nn.GRU(2, 3, batch_first=True, bidirectional=True, num_layers=2)
        bigru_last_states(deep, torch.zeros(1, 2, 2), torch.tensor([2]))


SEQUENCES = ["KLAKLAK", "GIGKFLHSAK", "FLPLIGR", "ACDEFGHIKL", "WWYY", "PPGRRPK", "K"]


def _wae(recurrence: str, **kwargs) -> SequenceWAE:
    torch.manual_seed(3)
    settings = dict(latent_dim=8, embedding_dim=16, encoder_hidden=32, decoder_hidden=64, max_len=12)
    return SequenceWAE(word_dropout=0.5, beta_anneal_steps=0, recurrence=recurrence, **settings, **kwargs)


@pytest.mark.parametrize("regularizer", ["mmd_rf", "kl"])
def test_the_wae_loss_and_its_gradients_are_the_same_either_way(regularizer):
    tokens = tokenize(SEQUENCES, 12)[:, :12]  # trimmed like a collated batch: the longest row ends at the edge
    results = {}
    for recurrence in ("nn", "packed"):
        model = _wae(recurrence, regularizer=regularizer).train()
        model.reseed(7)  # the same word dropout, code noise and MMD features
        terms = model.loss_terms(tokens)
        grads = torch.autograd.grad(terms["loss"], list(model.parameters()))
        results[recurrence] = terms, grads
    (nn_terms, nn_grads), (packed_terms, packed_grads) = results["nn"], results["packed"]
    for name in ("loss", "recon", "reg"):
        assert float(packed_terms[name]) == pytest.approx(float(nn_terms[name]), rel=1e-6), name
    for got, want in zip(packed_grads, nn_grads):
        assert _relative_error(got, want) < 1e-4


def test_auto_is_packed_on_cpu_and_encodes_as_nn_does():
    tokens = tokenize(SEQUENCES, 12)
    auto, packed, reference = _wae("auto"), _wae("packed"), _wae("nn")
    assert auto._packed_recurrence and packed._packed_recurrence and not reference._packed_recurrence
    losses = []
    for model in (auto, packed):
        model.train().reseed(1)  # seeds the global stream too: right before each loss
        losses.append(model.loss_terms(tokens)["loss"])
    assert torch.equal(losses[0], losses[1])
    with torch.no_grad():
        codes, reference_codes = auto.eval().encode_tokens(tokens)[0], reference.eval().encode_tokens(tokens)[0]
    assert torch.allclose(codes, reference_codes, atol=1e-5)


def test_a_deeper_encoder_runs_nn_under_auto():
    tokens = tokenize(SEQUENCES, 12)
    deep, reference = _wae("auto", encoder_layers=2), _wae("nn", encoder_layers=2)
    with torch.no_grad():
        codes, reference_codes = deep.eval().encode_tokens(tokens)[0], reference.eval().encode_tokens(tokens)[0]
    assert torch.allclose(codes, reference_codes, atol=1e-6)


def test_packed_training_runs_under_bf16_autocast_in_float32():
    tokens = tokenize(SEQUENCES, 12)
    packed, reference = _wae("packed").train(), _wae("nn").train()
    packed.reseed(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = packed.loss_terms(tokens)["loss"]
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in packed.parameters())
    reference.reseed(2)
    # the recurrence ran in float32; only the input projections and the output layer were bf16
    assert float(loss) == pytest.approx(float(reference.loss_terms(tokens)["loss"]), rel=2e-2)


def test_a_checkpoint_fitted_with_either_recurrence_resumes_with_the_other(tmp_path):
    from latentgraph.errors import ConfigValueError
    from latentgraph.pipeline.autoencoder import check_resume_checkpoint

    path = tmp_path / "fit.ckpt"
    hyper_parameters = {"latent_dim": 8, "recurrence": "nn", "alphabet": "peptides"}
    torch.save({"hyper_parameters": hyper_parameters, "state_dict": {}}, path)
    check_resume_checkpoint(str(path), {"latent_dim": 8, "recurrence": "packed", "alphabet": "peptides"})
    with pytest.raises(ConfigValueError, match="model.latent_dim=8 in the checkpoint, 16 in this run"):
        check_resume_checkpoint(str(path), {"latent_dim": 16, "recurrence": "packed", "alphabet": "peptides"})
