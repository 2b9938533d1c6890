"""The WAE: pure regulariser maths, decoding, learning, checkpoint reload."""

import math

import pytest
import torch

from latentgraph.data.alphabet import EOS, PAD, tokenize
from latentgraph.models.regularizers import beta_at, kl_standard_normal, mmd_random_features
from latentgraph.models.wae import SequenceWAE, prior_sample_quality, reconstruction_accuracy


def exact_rbf_mmd_to_standard_normal(z: torch.Tensor, sigma: float) -> float:
    """Closed-form-in-expectation MMD² to N(0, I) for an RBF kernel, used as the reference."""
    d = z.shape[1]
    s2 = sigma**2
    kzz = torch.exp(-(torch.cdist(z, z) ** 2) / (2 * s2)).mean()
    # E_p k(z, p) = (s2 / (s2 + 1))^(d/2) exp(-|z|² / (2 (s2 + 1)))
    kzp = ((s2 / (s2 + 1)) ** (d / 2) * torch.exp(-(z**2).sum(1) / (2 * (s2 + 1)))).mean()
    kpp = (s2 / (s2 + 2)) ** (d / 2)
    return float(kzz - 2 * kzp + kpp)


@pytest.mark.parametrize("shift", [0.0, 0.5, 2.0])
def test_random_feature_mmd_matches_exact_rbf_mmd(shift):
    torch.manual_seed(0)
    z = torch.randn(400, 4, dtype=torch.float64) + shift
    sigma = 2.0
    approx = mmd_random_features(z, n_features=200_000, sigma=sigma, generator=torch.Generator().manual_seed(1))
    assert float(approx) == pytest.approx(exact_rbf_mmd_to_standard_normal(z, sigma), abs=3e-3)


def test_mmd_grows_with_distance_from_prior():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    values = [
        float(mmd_random_features(torch.randn(512, 8) + s, n_features=2048, sigma=math.sqrt(8), generator=g))
        for s in (0.0, 1.0, 3.0)
    ]
    assert values[0] < values[1] < values[2]


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(16, 5), torch.randn(16, 5)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    reference = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert torch.allclose(kl_standard_normal(mu, logvar), reference, atol=1e-5)


def test_beta_schedule():
    assert beta_at(0, beta=2.0, beta_start=0.0, anneal_steps=100) == 0.0
    assert beta_at(50, beta=2.0, beta_start=0.0, anneal_steps=100) == 1.0
    assert beta_at(100, beta=2.0, beta_start=0.0, anneal_steps=100) == 2.0
    assert beta_at(10_000, beta=2.0, beta_start=0.0, anneal_steps=100) == 2.0
    assert beta_at(0, beta=2.0, beta_start=0.5, anneal_steps=0) == 2.0


def test_reconstruction_accuracy_and_prior_quality():
    targets = torch.tensor([[4, 5, EOS, PAD], [6, EOS, PAD, PAD]])
    decoded = torch.tensor([[4, 5, EOS, PAD], [6, 6, EOS, PAD]])
    token_acc, exact = reconstruction_accuracy(targets, decoded)
    assert float(token_acc) == pytest.approx(4 / 5) and float(exact) == 0.5
    validity, uniqueness = prior_sample_quality(torch.tensor([[4, EOS], [4, EOS], [5, 5]]))
    assert validity == pytest.approx(2 / 3) and uniqueness == 0.5


def tiny_model(**kwargs):
    defaults = dict(
        latent_dim=8,
        embedding_dim=16,
        encoder_hidden=32,
        decoder_hidden=64,
        max_len=12,
        word_dropout=0.0,
        beta=0.1,
        beta_anneal_steps=0,
        lr=1e-2,
    )
    defaults.update(kwargs)
    return SequenceWAE(**defaults)


@pytest.mark.parametrize("recurrence", ["nn", "packed"])
@pytest.mark.parametrize("regularizer", ["mmd_rf", "kl"])
def test_overfits_a_small_batch(regularizer, recurrence):
    torch.manual_seed(0)
    sequences = ["KLAKLAK", "GIGKFLHSAK", "FLPLIGR", "ACDEFGHIKL", "WWYY", "PPGRRPK"]
    model = tiny_model(regularizer=regularizer, beta=0.1 if regularizer == "mmd_rf" else 0.001, recurrence=recurrence)
    tokens = tokenize(sequences, 12)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(300):
        optimizer.zero_grad()
        model.loss_terms(tokens)["loss"].backward()
        optimizer.step()
    model.eval()
    assert model.decode(model.encode(sequences)) == sequences


def test_generate_shapes_and_sampling_is_seeded():
    model = tiny_model().eval()
    z = model.sample_prior(5, generator=torch.Generator().manual_seed(0))
    greedy = model.generate(z)
    assert greedy.shape == (5, 13) and not (greedy == 1).any()
    a = model.generate(z, sample=True, generator=torch.Generator().manual_seed(3))
    b = model.generate(z, sample=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert len(model.decode(z)) == 5


def test_checkpoint_reloads_with_weights_only(tmp_path):
    import pytorch_lightning as pl

    model = tiny_model()
    trainer = pl.Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    tokens = tokenize(["KLAKLAK", "GIGK"], 12)
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(tokens, batch_size=2))
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    reloaded = SequenceWAE.load_from_checkpoint(path, weights_only=True)
    assert reloaded.hparams.latent_dim == 8 and reloaded.hparams.max_len == 12
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_encode_rejects_bad_sequences_by_index():
    from latentgraph.data.records import DataError

    model = tiny_model().eval()
    with pytest.raises(DataError, match=r"sequence 1 \('KLXK'\) cannot be encoded: non-canonical character 'X'"):
        model.encode(["KLAK", "KLXK"])
    with pytest.raises(DataError, match="length 13 exceeds data.max_len=12"):
        model.encode(["A" * 13])


def test_folded_gru_step_equals_the_plain_gru():
    from latentgraph.models.folded_gru import fold_input, gru_step

    torch.manual_seed(0)
    model = tiny_model(decoder_layers=2).eval()
    z = torch.randn(6, model.latent_dim)
    tokens = torch.randint(0, 24, (6, 9))
    with torch.no_grad():
        reference = model.decoder_logits(z, tokens)  # nn.GRU on [emb + pos; z]
        inputs, state, logits = (
            fold_input(model.decoder, model.embedding, model.position, z, tokens.shape[1]),
            model._initial_state(z),
            [],
        )
        for t in range(tokens.shape[1]):
            state = gru_step(model.decoder, inputs.gates(tokens[:, t], t), state)
            logits.append(model.to_logits(state[-1]))
    assert torch.allclose(torch.stack(logits, dim=1), reference, atol=1e-5)


@pytest.mark.parametrize("sample", [False, True])
def test_folded_decode_equals_the_plain_decode(sample):
    torch.manual_seed(1)
    model = tiny_model()
    tokens = tokenize(["KLAKLAK", "GIGKFLHSAK", "FLPLIGR", "ACDEFGHIKL", "WWYY", "PPGRRPK"], 12)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):  # a partly trained decoder: rows end at different steps
        optimizer.zero_grad()
        model.loss_terms(tokens)["loss"].backward()
        optimizer.step()
    model.eval()
    z = torch.cat([model.encode(["KLAKLAK", "WWYY", "ACDEFGHIKL"]), torch.randn(61, model.latent_dim)])
    decoded = {}
    for folded in (False, True):
        model.hparams.folded_decode = folded
        generator = torch.Generator().manual_seed(5)
        decoded[folded] = model.generate(z, sample=sample, generator=generator if sample else None)
    ends = (decoded[True] == 2).float().argmax(dim=1)
    assert len(set(ends.tolist())) > 1  # some rows finish early and leave the batch
    if sample:  # the draws follow the rows still decoding, so only the shape and the finish are shared
        assert decoded[True].shape == decoded[False].shape
    else:
        assert torch.equal(decoded[True], decoded[False])
