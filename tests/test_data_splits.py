"""Deduplication, splits and leak-freedom of the autoencoder corpus."""

import numpy as np
import pandas as pd
import pytest

from latentgraph.data import SequenceDataModule, detokenize, prepare_data
from latentgraph.data.records import DataError
from latentgraph.data.splits import deduplicate, holdout_split, split_labelled


def test_deduplicate_reports_conflicts_and_keeps_agreeing_copies():
    frame = pd.DataFrame(
        {
            "sequence": ["AAA", "AAA", "CCC", "CCC", "DDD", "EEE", "EEE"],
            "amp": [1.0, 1.0, 1.0, 0.0, 0.0, np.nan, 1.0],
        }
    )
    result = deduplicate(frame)
    assert result.frame["sequence"].tolist() == ["AAA", "DDD", "EEE"]
    assert result.frame.set_index("sequence")["amp"].to_dict() == {"AAA": 1.0, "DDD": 0.0, "EEE": 1.0}
    assert result.n_duplicates == 2
    assert result.conflicts["sequence"].tolist() == ["CCC", "CCC"]


def test_split_is_stratified_disjoint_and_fixed_by_seed():
    frame = pd.DataFrame({"sequence": [f"S{i}" for i in range(1000)], "amp": [float(i % 4 == 0) for i in range(1000)]})
    a = split_labelled(frame, target="amp", fractions=(0.7, 0.1, 0.2), seed=3)
    b = split_labelled(frame, target="amp", fractions=(0.7, 0.1, 0.2), seed=3)
    c = split_labelled(frame, target="amp", fractions=(0.7, 0.1, 0.2), seed=4)
    assert [len(p) for p in a] == [700, 100, 200]
    assert all(x["sequence"].tolist() == y["sequence"].tolist() for x, y in zip(a, b))
    assert a[2]["sequence"].tolist() != c[2]["sequence"].tolist()
    sets = [set(p["sequence"]) for p in a]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    for part in a:
        assert part["amp"].mean() == pytest.approx(0.25, abs=0.01)


def test_holdout_split():
    train, held = holdout_split([str(i) for i in range(100)], fraction=0.1, seed=0)
    assert len(held) == 10 and len(train) == 90 and not set(train) & set(held)


def data_kwargs(**overrides):
    kwargs = dict(
        id_source="modlamp:AMPvsUniProt",
        ood_sources=["modlamp:AMPvsTM"],
        corpus_sources=[],
        target="amp",
        max_len=50,
        bad_records="drop",
        val_fraction=0.1,
        test_fraction=0.2,
        split_seed=0,
        corpus_val_fraction=0.1,
        batch_size=256,
    )
    kwargs.update(overrides)
    return kwargs


def test_modlamp_default_shift_counts():
    data = prepare_data(**data_kwargs())
    s = data.summary
    # AMPvsUniProt: 5200 records, 270 longer than 50, 532 repeats, 22 sequences with conflicting labels
    assert s["sources"]["AMPvsUniProt"]["read"] == 4930
    assert s["sources"]["AMPvsUniProt"]["duplicates_removed"] == 532
    assert s["sources"]["AMPvsUniProt"]["conflicting_sequences_removed"] == 22
    assert s["dropped"]["by_source"]["modlamp:AMPvsUniProt"] == {"too_long": 270}
    # the OOD set stays whole and keeps its positives; the shared sequences leave the ID set
    assert s["ood"]["AMPvsTM"] == {"n": 405, "positives": 199}
    assert not data.id_sequences & set(data.ood["AMPvsTM"]["sequence"])


def test_no_ood_sequence_reaches_the_autoencoder_corpus(tmp_path):
    # a user OOD CSV that overlaps both the ID set and an extra corpus FASTA
    id_frame = prepare_data(**data_kwargs(ood_sources=[]))
    shared_with_id = id_frame.id_train["sequence"].tolist()[:5]
    (tmp_path / "extra.fasta").write_text("".join(f">x{i}\n{s}\n" for i, s in enumerate(["KLAKLAKK", "GIGKFLHS"])))
    (tmp_path / "user_ood.csv").write_text(
        "sequence,amp\n" + "".join(f"{s},1\n" for s in shared_with_id) + "KLAKLAKK,0\n"
    )
    data = prepare_data(
        **data_kwargs(
            ood_sources=["modlamp:AMPvsTM", str(tmp_path / "user_ood.csv")],
            corpus_sources=[str(tmp_path / "extra.fasta")],
        )
    )
    ood = set().union(*(set(f["sequence"]) for f in data.ood.values()))
    assert {"KLAKLAKK", *shared_with_id} <= ood
    assert "GIGKFLHS" in data.corpus_train + data.corpus_val

    module = SequenceDataModule(prepared=data, **data_kwargs())
    module.setup("fit")
    served = set()
    for loader in (module.train_dataloader(), module.val_dataloader()):
        for batch in loader:
            served.update(detokenize(batch))
    assert len(served) == len(data.corpus_train) + len(data.corpus_val)
    assert not served & ood
    assert not data.id_sequences & ood


def _prepare(**overrides):
    from latentgraph.data import prepare_data

    settings = dict(
        id_source="modlamp:ACPvsRandom",
        ood_sources=["modlamp:ACPvsTM"],
        corpus_sources=[],
        target="acp",
        max_len=50,
        bad_records="drop",
        val_fraction=0.1,
        test_fraction=0.2,
        split_seed=0,
        corpus_val_fraction=0.1,
    )
    return prepare_data(**{**settings, **overrides})


def test_drop_fit_from_ood_keeps_positives_on_both_sides():
    data = _prepare(overlap="drop_fit_from_ood")
    fitted = set(data.id_train["sequence"]) | set(data.id_val["sequence"])
    ood = data.ood["ACPvsTM"]
    assert not fitted & set(ood["sequence"])
    assert ood["acp"].sum() == data.id_test["acp"].sum() > 50  # the shared ACPs are the ID test split's
    assert not set(ood["sequence"]) & set(data.corpus_train + data.corpus_val)
    # the default rule would leave the ID set without positives here: a clear error, not a silent run
    with pytest.raises(DataError, match="only one class.*drop_fit_from_ood"):
        _prepare(overlap="drop_from_id")


def test_ood_csv_is_an_extra_ood_set_named_by_its_stem(tmp_path):
    path = tmp_path / "my_shift.csv"
    path.write_text("sequence,label\nKKLLKKLLKK,1\nGGSGGSGGSA,0\nKKKKWWWWLLLLAA,1\n")
    data = _prepare(ood_csv=[str(path)], overlap="drop_fit_from_ood")
    assert set(data.ood) == {"ACPvsTM", "my_shift"}
    assert list(data.ood["my_shift"]["acp"]) == [1.0, 0.0, 1.0]
    bad = tmp_path / "no_label.csv"
    bad.write_text("sequence,activity\nKKLLKKLLKK,1\n")
    with pytest.raises(DataError, match="needs a 'label' column"):
        _prepare(ood_csv=[str(bad)], overlap="drop_fit_from_ood")


def test_training_order_depends_only_on_seed_and_epoch_and_resumes_mid_epoch():
    from latentgraph.data.datamodule import FitPosition, ResumableShuffle

    def order(epoch: int, done: int = 0, rank: int = 0, world: int = 1, seed: int = 0) -> list[int]:
        return list(
            ResumableShuffle(50, seed=seed, batch_size=8, position=lambda: FitPosition(epoch, done, rank, world))
        )

    assert sorted(order(0)) == list(range(50)) and order(0) == order(0)
    assert order(0) != order(1) and order(0) != order(0, seed=1)
    assert order(3, done=2) == order(3)[16:]  # a resumed epoch continues where the killed one stopped
    shards = [order(2, rank=r, world=3) for r in range(3)]
    assert {len(s) for s in shards} == {17}  # equal shares (51 = 50 padded by wrapping)
    assert set().union(*shards) == set(range(50))
    assert len(ResumableShuffle(50, seed=0, batch_size=8, position=lambda: FitPosition(0, 0, 1, 3))) == 17


def test_length_bucketed_order_is_a_resumable_shardable_permutation_of_similar_lengths():
    import numpy as np

    from latentgraph.data.datamodule import BUCKET_POOL_BATCHES, FitPosition, ResumableShuffle

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 52, size=1000)

    def order(epoch: int, done: int = 0, rank: int = 0, world: int = 1, seed: int = 0, bucketed=True) -> list[int]:
        return list(
            ResumableShuffle(
                1000,
                seed=seed,
                batch_size=16,
                lengths=lengths if bucketed else None,
                position=lambda: FitPosition(epoch, done, rank, world),
            )
        )

    assert sorted(order(0)) == list(range(1000)) and order(0) == order(0)
    assert order(0) != order(1) and order(0) != order(0, seed=1)
    assert order(3, done=5) == order(3)[80:]  # resumes mid-epoch in the same order
    shards = [order(2, rank=r, world=3) for r in range(3)]
    assert {len(s) for s in shards} == {334} and set().union(*shards) == set(range(1000))

    def padded_fraction(indices: list[int]) -> float:  # what the collate cannot trim: width - length
        batches = [lengths[indices[i : i + 16]] for i in range(0, len(indices), 16)]
        return sum(int(b.max()) * len(b) - int(b.sum()) for b in batches) / sum(int(b.max()) * len(b) for b in batches)

    assert padded_fraction(order(0)) < 0.1 < 0.3 < padded_fraction(order(0, bucketed=False))
    pools = [sorted(order(0)[i : i + 16]) for i in range(0, 16 * BUCKET_POOL_BATCHES, 16)]
    assert len({tuple(p) for p in pools}) == BUCKET_POOL_BATCHES  # batches, not copies


def test_an_ood_set_left_with_one_class_is_refused_before_any_work_with_its_counts(tmp_path):
    """The four-row OOD CSV: one valid positive, one with X, one empty, one too long."""
    path = tmp_path / "bad.csv"
    path.write_text("sequence,label\nKKLLKKLLKK,1\nKKXLLK,0\n,0\n" + "K" * 80 + ",0\n")
    with pytest.raises(
        DataError, match=r"OOD set 'bad' holds 1 labelled sequences of a single class of 'acp' \(1: 1\)"
    ):
        _prepare(ood_csv=[str(path)], overlap="drop_fit_from_ood")
