"""The perturbation engine: codes grid, determinism, plain callables, unscorable decodes, files."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from toy_models import ToyAttributes, ToyAutoencoder

from latentgraph.perturbation import Autoencoder, PerturbationResult, run_perturbation
from latentgraph.perturbation.engine import perturbed_codes


def test_perturbed_codes_grid_order():
    base = torch.tensor([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    deltas, scale = torch.tensor([-1.0, 2.0]), torch.tensor([1.0, 0.5, 3.0])
    codes = perturbed_codes(base, torch.arange(12), deltas, scale)  # 2 bases × 3 latents × 2 steps
    expected = [[-1, 0, 0], [2, 0, 0], [0, -0.5, 0], [0, 1, 0], [0, 0, -3], [0, 0, 6]]
    assert torch.equal(codes[:6], torch.tensor(expected))
    assert torch.equal(codes[6:], torch.tensor(expected) + 10)


def test_deterministic_for_a_seed_and_independent_of_batch_size():
    run = lambda seed, batch: run_perturbation(
        ToyAutoencoder(),
        ToyAttributes(),
        base="prior",
        n_base=16,
        deltas=[-1, 1],  # noqa: E731
        seed=seed,
        batch_size=batch,
        n_permutations=499,
        progress=False,
    )
    a, b, c = run(0, 4096), run(0, 7), run(1, 4096)
    for name in ("effects", "pvalues", "qvalues", "sensitivity", "change_rate", "base_codes"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.base_codes, c.base_codes)
    assert a.effects.shape == (16, 6, 2, 8) and a.pvalues.shape == (6, 8) and a.change_rate.shape == (6,)


def test_plain_callable_attributes_and_the_protocol():
    class Lengths:
        names = ["length", "k_count"]

        def __call__(self, sequences):
            return torch.tensor([[len(s), s.count("K")] for s in sequences], dtype=torch.float32)

    assert isinstance(ToyAutoencoder(), Autoencoder)
    result = run_perturbation(
        ToyAutoencoder(), Lengths(), base="prior", n_base=32, deltas=[1.0, 2.0], n_permutations=999, progress=False
    )
    assert result.attribute_names == ["length", "k_count"]
    assert (result.sensitivity[:, 0] == 0).all()  # the toy's length never changes
    assert float(result.qvalues[0, 1]) < 0.05 and (result.qvalues[4:, 1] == 1).all()


def test_the_project_wae_satisfies_the_protocol():
    from latentgraph.models.wae import SequenceWAE

    model = SequenceWAE(latent_dim=4, embedding_dim=8, encoder_hidden=8, decoder_hidden=8, max_len=10)
    assert isinstance(model, Autoencoder)
    result = run_perturbation(
        model,
        ToyAttributes(),
        n_base=4,
        deltas=[1.0],
        n_permutations=99,
        progress=False,
        base="posterior",
        sequences=["KKKAA", "EEWWL", "GGSSA", "KLWEA", "AAAAK"],
    )
    assert result.info["latent_scale"] == "data" and result.base_codes.shape == (4, 4)


def test_unscorable_decodes_are_counted_and_left_out(caplog):
    class NaNForW(ToyAttributes):
        def __call__(self, sequences):
            values = super().__call__(sequences)
            values[torch.tensor(["W" in s for s in sequences])] = float("nan")
            return values

    with caplog.at_level("WARNING"):
        result = run_perturbation(
            ToyAutoencoder(), NaNForW(), base="prior", n_base=32, deltas=[-1, 1], n_permutations=499, progress=False
        )
    assert result.info["unscorable_decodes"] > 0 and "could not be scored" in caplog.text
    assert torch.isfinite(result.pvalues).all() and torch.isfinite(result.sensitivity).all()


def test_each_distinct_decode_is_scored_once_and_every_copy_gets_its_row():
    class CountingAttributes(ToyAttributes):
        def __init__(self):
            super().__init__()
            self.batches: list[list[str]] = []

        def __call__(self, sequences):
            self.batches.append(list(sequences))
            return super().__call__(sequences)

    attributes = CountingAttributes()
    result = run_perturbation(
        ToyAutoencoder(),
        attributes,
        base="prior",
        n_base=16,
        deltas=[-1, 1],
        n_permutations=499,
        n_directions=0,
        progress=False,
    )
    assert all(len(set(batch)) == len(batch) for batch in attributes.batches)  # no sequence scored twice
    assert sum(len(batch) for batch in attributes.batches) < 16 + 16 * 6 * 2  # the toy's decodes repeat
    # the effects equal scoring every decode row by row
    model, scorer = ToyAutoencoder(), ToyAttributes()
    codes = result.perturbed_codes().reshape(-1, result.base_codes.shape[1])
    values = (
        scorer(model.decode(codes)).reshape(result.effects.shape)
        - scorer(model.decode(result.base_codes))[:, None, None, :]
    )
    assert torch.equal(result.effects, values)


def test_attributes_of_the_wrong_shape_are_a_clear_error():
    class Broken:
        names = ["a", "b"]

        def __call__(self, sequences):
            return torch.zeros(len(sequences), 3)

    with pytest.raises(ValueError, match=r"expected a tensor of shape \(\d+, 2\)"):
        run_perturbation(ToyAutoencoder(), Broken(), base="prior", n_base=4, deltas=[1], progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"deltas": []}, "non-empty"),
        ({"deltas": [0.0, 1.0]}, "non-zero"),
        ({"n_base": 1}, "n_base"),
        ({"base": "posterior"}, "encodes n_base of the given sequences: pass sequences"),
        ({"base": "mean"}, "'prior' or 'posterior'"),
        ({"latent_scale": "data"}, "needs sequences"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"base": "prior", "n_base": 4, "deltas": [1.0], "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        run_perturbation(ToyAutoencoder(), ToyAttributes(), **args)


def test_save_and_load_round_trip(tmp_path):
    result = run_perturbation(
        ToyAutoencoder(), ToyAttributes(), base="prior", n_base=8, deltas=[-1, 1], n_permutations=99, progress=False
    )
    result.save(tmp_path / "perturbation")
    for name in ("result.npz", "summary.json", "sensitivity.csv", "pvalues.csv", "qvalues.csv", "change_rate.csv"):
        assert (tmp_path / "perturbation" / name).is_file(), name
    loaded = PerturbationResult.load(tmp_path / "perturbation")
    assert loaded.latent_names == result.latent_names and loaded.base_sequences == result.base_sequences
    assert torch.equal(loaded.qvalues, result.qvalues) and loaded.info == result.info
    assert loaded.perturbed_codes().shape == (8, 6, 2, 6)
    # the random-direction null's arrays, under their own names ("control" is the planted positive control)
    saved = np.load(tmp_path / "perturbation" / "result.npz")
    assert {"directions", "null_effects", "null_pvalues", "null_qvalues"} <= set(saved.files)
    assert not any("control" in name for name in saved.files)
    assert loaded.has_direction_null and torch.equal(loaded.null_qvalues, result.null_qvalues)
    assert (tmp_path / "perturbation" / "null_qvalues.csv").is_file()
    with pytest.raises(FileNotFoundError, match="not a saved perturbation result"):
        PerturbationResult.load(tmp_path)


class ThreadShard:
    """A Shard over threads: ``gather`` waits until every rank has handed in its object."""

    def __init__(self, rank: int, world_size: int, inbox: list, barrier: threading.Barrier):
        self.rank, self.world_size, self.inbox, self.barrier = rank, world_size, inbox, barrier

    def gather(self, obj):
        self.inbox[self.rank] = obj
        self.barrier.wait(timeout=60)
        return list(self.inbox) if self.rank == 0 else None


@pytest.mark.parametrize("world_size", [2, 3])
def test_sharded_across_processes_equals_one_process(world_size):
    settings = dict(n_base=10, deltas=[-2.0, 2.0], seed=3, batch_size=7, progress=False)
    alone = run_perturbation(ToyAutoencoder(), ToyAttributes(), base="prior", **settings)
    inbox, barrier, results = [None] * world_size, threading.Barrier(world_size), [None] * world_size

    def rank(r: int) -> None:
        results[r] = run_perturbation(
            ToyAutoencoder(),
            ToyAttributes(),
            shard=ThreadShard(r, world_size, inbox, barrier),
            base="prior",
            **settings,
        )

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world_size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results[1:] == [None] * (world_size - 1)  # only rank zero holds the result
    sharded = results[0]
    assert sharded.info["processes"] == world_size
    assert [len(share[1]) for share in inbox] == [len(s) for s in torch.arange(10 * 6 * 2).tensor_split(world_size)]
    for name in ("effects", "sensitivity", "pvalues", "qvalues", "change_rate"):
        torch.testing.assert_close(getattr(sharded, name), getattr(alone, name), rtol=0, atol=1e-5, equal_nan=True)
