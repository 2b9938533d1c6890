"""The ``data`` group's schema: the sources, the bad-record policy, the splits and the batches."""

from __future__ import annotations

from dataclasses import dataclass, field

from latentgraph.config.choices import (
    AlphabetName,
    BadRecordPolicy,
    Overlap,
    StereoPolicy,
)
from latentgraph.config.validation import check, fraction, positive


@dataclass
class DataConfig:
    """Data layer (docs/method.md §1). A source is ``modlamp:NAME``, a .csv file (sequence and label
    columns) or a FASTA file."""

    id_source: str = "modlamp:AMPvsUniProt"  # the labelled in-distribution set, split train/val/test
    # out-of-distribution sets, deduplicated against every ID sequence
    ood_sources: list[str] = field(default_factory=lambda: ["modlamp:AMPvsTM"])
    ood_csv: list[str] = field(default_factory=list)  # more OOD sets: CSVs (sequence,label), named by file stem
    # extra unlabelled sequences for the autoencoder (modlamp, CSV or FASTA)
    corpus_sources: list[str] = field(default_factory=lambda: ["modlamp:ACPvsRandom", "modlamp:ACPvsTM"])
    target: str = "amp"  # the label column predicted downstream
    max_len: int = 50
    bad_records: BadRecordPolicy = (
        BadRecordPolicy.drop
    )  # drop (counted, data/dropped.csv) or strict (an error naming it)
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    corpus_val_fraction: float = 0.1  # the held-out part of the autoencoder corpus (reconstruction metrics)
    corpus_limit: int | None = None  # a cap on the autoencoder corpus (smoke runs)
    overlap: Overlap = (
        Overlap.drop_from_id
    )  # a sequence in an OOD set and the ID set leaves the ID set (or the OOD set)
    # each OOD sequence's nearest-neighbour identity to the ID training split and to the corpus:
    # measured and reported (data/summary.json, the report); max_identity drops OOD sequences above it
    identity: bool = True
    max_identity: float | None = None
    augment_substitution: float = 0.1  # training batches: the residue substitution rate
    augment_crop: float = 0.5  # training batches: the fraction of rows cropped to a random window
    bucket_by_length: bool = False  # batches of similar length: faster epochs, not faster to accuracy
    batch_size: int = 64
    num_workers: int = 0
    alphabet: AlphabetName = AlphabetName.peptides  # how sequences are written (domain=molecules: selfies)
    # molecules: keep stereochemistry as written (SELFIES: a record it cannot write is dropped, counted) or strip it
    stereo: StereoPolicy = StereoPolicy.keep

    def __post_init__(self) -> None:
        positive(self, "max_len", "batch_size")
        check(self.max_len <= 1000, "max_len", self.max_len, "must be <= 1000")
        fraction(self, "val_fraction")
        fraction(self, "test_fraction")
        check(
            self.val_fraction + self.test_fraction < 1,
            "test_fraction",
            self.test_fraction,
            "val_fraction + test_fraction must be < 1",
        )
        fraction(self, "corpus_val_fraction")
        fraction(self, "augment_substitution")
        fraction(self, "augment_crop", closed_right=True)
        check(
            self.corpus_limit is None or self.corpus_limit > 1, "corpus_limit", self.corpus_limit, "must be > 1 or null"
        )
        check(self.num_workers >= 0, "num_workers", self.num_workers, "must be >= 0")
        check(
            self.max_identity is None or 0 < self.max_identity <= 1,
            "max_identity",
            self.max_identity,
            "must be in (0, 1] (the highest identity an OOD sequence may have to an ID or corpus sequence) or null",
        )
        check(bool(self.target), "target", self.target, "must name a label column")
        check(
            self.stereo == StereoPolicy.keep or self.alphabet != AlphabetName.peptides,
            "stereo",
            self.stereo,
            "applies to molecule alphabets only (data.alphabet=selfies or smiles; domain=molecules)",
        )
