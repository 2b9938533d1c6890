"""Read every configured source, apply the bad-record policy, deduplicate and split (docs/method.md §1).

:func:`prepare_data` is the data layer's one entry point: it returns a :class:`PreparedData`
holding the labelled ID splits, the OOD sets and the autoencoder corpus, plus the run-level
summary of what was dropped and why. :func:`write_data_report` puts that summary in the run
directory (``data/summary.json``, ``data/dropped.csv``, ``data/conflicts.csv``).

No sequence is in both a fitted split and an OOD set. ``overlap="drop_from_id"`` (default) takes a
shared sequence out of the ID set, so each OOD set stays whole (modlamp's AMPvsTM positives
are almost all in AMPvsUniProt; removing them from the OOD side would leave no positives);
``"drop_from_ood"`` takes it out of the OOD set instead. ``"drop_fit_from_ood"`` removes from
the OOD sets only what the ID train and val splits hold, so an OOD set may share sequences
with the ID test split (ACPvsRandom and ACPvsTM share all 413 ACPs: any other rule leaves
one side without positives). The autoencoder corpus never holds an OOD sequence.
``identity`` measures each OOD sequence's nearest-neighbour identity to the ID training split
and to the corpus (:mod:`latentgraph.data.identity`; ``summary["identity"]``);
``max_identity`` drops the OOD sequences above it to any ID or corpus sequence, counted and
named (``identity_dropped``). The corpus is the same with or without it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from latentgraph.atomic import atomic_write_text, write_json
from latentgraph.config.schema import DataConfig
from latentgraph.config.validation import with_changes
from latentgraph.data.alphabet import reading_alphabet
from latentgraph.data.identity import MOLECULE_MEASURE, PEPTIDE_MEASURE, distribution, nearest_identity
from latentgraph.data.records import DataError, DropLog, RecordFilter
from latentgraph.data.sources import parse_source_spec, read_source
from latentgraph.data.splits import deduplicate, holdout_split, remove_sequences, split_labelled
from latentgraph.run_layout import RunLayout

log = logging.getLogger(__name__)
IDENTITY_DROPPED_COLUMNS = ["set", "sequence", "label", "identity"]


@dataclass
class PreparedData:
    target: str
    id_train: pd.DataFrame
    id_val: pd.DataFrame
    id_test: pd.DataFrame
    ood: dict[str, pd.DataFrame]
    corpus_train: list[str]
    corpus_val: list[str]
    drop_log: DropLog
    conflicts: pd.DataFrame
    summary: dict = field(default_factory=dict)
    # OOD sequences dropped by data.max_identity: set, sequence, label, identity to the nearest ID or corpus sequence
    identity_dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=IDENTITY_DROPPED_COLUMNS))

    @property
    def id_sequences(self) -> set[str]:
        return set(self.id_train["sequence"]) | set(self.id_val["sequence"]) | set(self.id_test["sequence"])


def prepare_data(settings: DataConfig | None = None, /, **changes: Any) -> PreparedData:
    """Build the ID splits, OOD sets and autoencoder corpus from source specs (the module docstring
    gives the overlap and identity rules).

    ``settings`` is the run's ``data`` config (its defaults when omitted); ``changes`` replace some
    of its values by name (``prepare_data(settings, target="acp")``), checked as the config's are: a
    name that is not a data setting raises ``TypeError``. ``ood_csv`` files (``sequence`` and
    ``label`` columns) are further OOD sets, named by file stem. For molecules each SMILES is parsed
    by RDKit and rewritten in ``alphabet``; ``stereo=keep`` reads stereochemistry as written (SELFIES
    has no stereo symbols: such a record is bad, ``unknown_symbol``), ``strip`` removes it, counted.

    Raises:
        DataError: a missing file, an unreadable format, a missing target column, or (under
            ``bad_records=strict``) the first bad record.
    """
    config = with_changes(settings or DataConfig(), **changes)
    drop_log = DropLog()
    record_filter = RecordFilter(
        max_len=config.max_len,
        policy=config.bad_records,
        drop_log=drop_log,
        alphabet=reading_alphabet(config.alphabet, config.stereo),
    )
    sources = _SourceReader(record_filter)
    summary: dict = {"sources": sources.summary}
    id_name, id_frame = sources.load(config.id_source)
    if config.target not in id_frame.columns:
        labels = [c for c in id_frame.columns if c != "sequence"]
        raise DataError(
            f"ID source {config.id_source!r} has no label column {config.target!r} for data.target "
            f"(labels: {labels or 'none'})"
        )
    ood = _ood_sets(
        sources, [*config.ood_sources, *(config.ood_csv or [])], set(config.ood_csv or []), config.target, id_name
    )
    id_frame, splits, ood, ood_all = _split_without_overlap(id_frame, ood, sources.summary, id_name, config)
    corpus_train, corpus_val = _autoencoder_corpus(sources, id_frame, ood_all, summary, config)
    conflicts = (
        pd.concat(sources.conflicts, ignore_index=True)
        if sources.conflicts
        else pd.DataFrame(columns=["sequence", "source"])
    )
    identity_dropped = pd.DataFrame(columns=IDENTITY_DROPPED_COLUMNS)
    if config.identity or config.max_identity is not None:
        references = {
            "id_train": list(splits[0]["sequence"]),
            "id": list(id_frame["sequence"]),
            "corpus": corpus_train + corpus_val,
        }
        ood, summary["identity"], identity_dropped = _identity(
            ood, references, config.target, config.alphabet, config.max_identity
        )
    summary.update(_counts(config.target, id_name, splits, ood, (corpus_train, corpus_val), drop_log, len(conflicts)))
    for name, frame in ood.items():
        _check_two_classes(name, frame, config.target)
    return PreparedData(
        config.target, *splits, ood, corpus_train, corpus_val, drop_log, conflicts, summary, identity_dropped
    )


def _identity(
    ood: dict[str, pd.DataFrame], references: dict[str, list[str]], target: str, alphabet: str, bound: float | None
) -> tuple[dict[str, pd.DataFrame], dict, pd.DataFrame]:
    """Each OOD set's nearest-neighbour identity to the ID training split and to the corpus, and the
    sets without the sequences above ``bound`` to any ID or corpus sequence (those, named)."""
    molecules = alphabet != "peptides"
    started = time.perf_counter()
    summary: dict = {"measure": MOLECULE_MEASURE if molecules else PEPTIDE_MEASURE, "max_identity": bound, "sets": {}}
    kept, dropped = {}, []
    readable = _as_smiles(alphabet) if molecules else list
    sets = {k: readable(v) for k, v in references.items()}  # once, not per OOD set
    for name, frame in ood.items():
        nearest = nearest_identity(readable(list(frame["sequence"])), sets, molecules=molecules)
        closest = np.maximum(nearest["id"], nearest["corpus"])
        summary["sets"][name] = {
            "to_id_train": distribution(nearest["id_train"]),
            "to_corpus": distribution(nearest["corpus"]),
        }
        above = closest > bound + 1e-9 if bound is not None else np.zeros(len(frame), dtype=bool)
        labels = frame[target] if target in frame else pd.Series(np.nan, index=frame.index)
        dropped.append(
            pd.DataFrame(
                {"set": name, "sequence": frame["sequence"][above], "label": labels[above], "identity": closest[above]}
            )
        )
        kept[name] = frame[~above].reset_index(drop=True)
        summary["sets"][name]["dropped"] = int(above.sum())
        if bound is not None:
            _check_still_evaluable(name, kept[name], target, bound, int(above.sum()))
    log.info(
        "data: OOD identity to the ID training split and the corpus measured in %.1f s", time.perf_counter() - started
    )
    named = pd.concat(dropped, ignore_index=True) if dropped else pd.DataFrame(columns=IDENTITY_DROPPED_COLUMNS)
    return kept, summary, named


def _as_smiles(alphabet: str):
    """A function from sequences in the molecule ``alphabet`` to SMILES (RDKit reads those)."""
    from latentgraph.data.alphabet import get_alphabet
    from latentgraph.data.molecules import to_smiles

    reading = get_alphabet(alphabet)
    return lambda sequences: to_smiles(list(sequences), reading)


def _check_still_evaluable(name: str, frame: pd.DataFrame, target: str, bound: float, removed: int) -> None:
    """Log the drops; refuse a set that ``data.max_identity`` left without two classes (nothing to score)."""
    if removed:
        log.warning(
            "data: %s: dropped %d sequences above identity %.2f to an ID or corpus sequence (data.max_identity); "
            "see data/identity_dropped.csv",
            name,
            removed,
            bound,
        )
    if target in frame and frame[target].nunique() < 2:
        raise DataError(
            f"OOD set {name!r} has {len(frame)} sequences and fewer than two classes of {target!r} left after "
            f"data.max_identity={bound} dropped {removed}; raise the bound or remove the set"
        )


def _check_two_classes(name: str, frame: pd.DataFrame, target: str) -> None:
    """Refuse a labelled OOD set that holds fewer than two classes of the target once bad records and
    overlaps are dropped: no AUROC can be scored on it, and it is known before any fit."""
    if target not in frame:
        return
    counts = frame[target].value_counts().sort_index()
    if len(counts) < 2:
        found = ", ".join(f"{label:g}: {count}" for label, count in counts.items()) or "no labelled rows"
        raise DataError(
            f"OOD set {name!r} holds {len(frame)} labelled sequences of a single class of {target!r} ({found}) after "
            "bad records and overlaps were dropped (data/dropped.csv); an AUROC needs both classes: add sequences "
            "of the other class or leave the set out (data.ood_sources, data.ood_csv)"
        )


def _counts(
    target: str,
    id_name: str,
    splits: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    ood: dict[str, pd.DataFrame],
    corpus: tuple[list[str], list[str]],
    drop_log: DropLog,
    conflicting_rows: int,
) -> dict:
    """The data summary's sizes: each ID split, each OOD set, the corpus, the drops and the conflicts."""
    id_train, id_val, id_test = splits
    return {
        "target": target,
        "id": {
            "name": id_name,
            "train": len(id_train),
            "val": len(id_val),
            "test": len(id_test),
            "positives_train": int((id_train[target] == 1).sum()),
        },
        "ood": {
            name: {"n": len(f), "positives": int((f[target] == 1).sum()) if target in f else None}
            for name, f in ood.items()
        },
        "corpus": {"train": len(corpus[0]), "val": len(corpus[1])},
        "dropped": {"total": drop_log.total, "by_source": drop_log.summary()},
        "conflicting_label_rows": conflicting_rows,
    }


class _SourceReader:
    """Reads source specs through one record filter: deduplicated frames, with each source's counts
    in ``summary`` and its label conflicts in ``conflicts``."""

    def __init__(self, record_filter: RecordFilter):
        self.record_filter = record_filter
        self.summary: dict[str, dict] = {}
        self.conflicts: list[pd.DataFrame] = []
        # data.stereo=strip reads through a normaliser that counts the records it changed
        normalise = record_filter.alphabet.normalise
        self.stereo_count = normalise if hasattr(normalise, "removed") else None

    def load(self, spec_text: str) -> tuple[str, pd.DataFrame]:
        spec = parse_source_spec(spec_text)
        before = self.stereo_count.removed if self.stereo_count is not None else 0
        raw = read_source(spec, self.record_filter)
        dedup = deduplicate(raw)
        if len(dedup.conflicts):
            self.conflicts.append(dedup.conflicts.assign(source=spec_text))
            log.warning(
                "%s: %d sequences carry conflicting labels across duplicates; all their copies were dropped",
                spec_text,
                dedup.conflicts["sequence"].nunique(),
            )
        self.summary[spec.name] = {
            "spec": spec_text,
            "read": len(raw),
            "duplicates_removed": dedup.n_duplicates,
            "conflicting_sequences_removed": int(dedup.conflicts["sequence"].nunique()) if len(dedup.conflicts) else 0,
            "kept": len(dedup.frame),
        }
        if self.stereo_count is not None:
            removed = self.stereo_count.removed - before
            self.summary[spec.name]["stereo_removed"] = removed
            if removed:
                log.info("%s: removed the stereochemistry of %d records (data.stereo=strip)", spec_text, removed)
        return spec.name, dedup.frame


def _ood_sets(
    sources: _SourceReader, specs: list[str], csv_specs: set[str], target: str, id_name: str
) -> dict[str, pd.DataFrame]:
    """Every OOD set by name; ``data.ood_csv`` files take their ``label`` column as the target."""
    ood: dict[str, pd.DataFrame] = {}
    for spec_text in specs:
        name, frame = sources.load(spec_text)
        if spec_text in csv_specs:
            if parse_source_spec(spec_text).kind != "csv":
                raise DataError(f"data.ood_csv entry {spec_text!r} is not a .csv file")
            if target not in frame.columns:
                if "label" not in frame.columns:
                    raise DataError(
                        f"{spec_text}: data.ood_csv needs a 'label' column (or {target!r}); "
                        f"columns: {list(frame.columns)}"
                    )
                frame = frame.rename(columns={"label": target})
        if name in ood or name == id_name:
            raise DataError(f"two data sources share the name {name!r}; rename one of the files")
        if target in frame.columns:
            frame = frame[frame[target].notna()].reset_index(drop=True)
        ood[name] = frame
    return ood


def _split_without_overlap(
    id_frame: pd.DataFrame,
    ood: dict[str, pd.DataFrame],
    source_summary: dict[str, dict],
    id_name: str,
    config: DataConfig,
) -> tuple[pd.DataFrame, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], dict[str, pd.DataFrame], set[str]]:
    """The ID train/val/test splits, with a sequence shared by the ID and an OOD set removed from one
    side (``data.overlap``); the ID set, the splits, the OOD sets and every OOD sequence."""
    target, overlap = config.target, config.overlap
    if overlap == "drop_from_ood":
        id_all = set(id_frame["sequence"])
        for name in ood:
            ood[name], n_overlap = remove_sequences(ood[name], id_all)
            source_summary[name]["removed_as_in_id"] = n_overlap
    ood_all = set().union(*(set(f["sequence"]) for f in ood.values())) if ood else set()
    if overlap == "drop_from_id":
        id_frame, n_overlap = remove_sequences(id_frame, ood_all)
        source_summary[id_name]["removed_as_in_ood"] = n_overlap
    if id_frame[target].nunique() < 2:
        raise DataError(
            f"ID source {config.id_source!r} has only one class of {target!r} left after removing the sequences "
            f"it shares with the OOD sets (data.overlap={overlap}); when ID and OOD sets share their "
            "positives, use data.overlap=drop_fit_from_ood"
        )
    id_train, id_val, id_test = split_labelled(
        id_frame,
        target=target,
        fractions=(1 - config.val_fraction - config.test_fraction, config.val_fraction, config.test_fraction),
        seed=config.split_seed,
    )
    if overlap == "drop_fit_from_ood":
        fitted = set(id_train["sequence"]) | set(id_val["sequence"])
        for name in ood:
            ood[name], n_overlap = remove_sequences(ood[name], fitted)
            source_summary[name]["removed_as_in_id_train_or_val"] = n_overlap
        ood_all = set().union(*(set(f["sequence"]) for f in ood.values())) if ood else set()
    return id_frame, (id_train, id_val, id_test), ood, ood_all


def _autoencoder_corpus(
    sources: _SourceReader, id_frame: pd.DataFrame, ood_all: set[str], summary: dict, config: DataConfig
) -> tuple[list[str], list[str]]:
    """Every ID sequence plus the extra sources, minus every OOD sequence; its train and held-out parts."""
    corpus = list(dict.fromkeys(list(id_frame["sequence"])))
    for spec_text in config.corpus_sources:
        _, frame = sources.load(spec_text)
        corpus.extend(frame["sequence"])
    corpus = list(dict.fromkeys(corpus))
    n_before = len(corpus)
    corpus = [s for s in corpus if s not in ood_all]
    summary["corpus_removed_as_ood"] = n_before - len(corpus)
    limit, seed = config.corpus_limit, config.split_seed
    if limit is not None and len(corpus) > limit:
        corpus, _ = holdout_split(corpus, fraction=1 - limit / len(corpus), seed=seed)
    corpus_train, corpus_val = holdout_split(corpus, fraction=config.corpus_val_fraction, seed=seed)
    if not corpus_train:
        raise DataError("the autoencoder corpus is empty after filtering; check the data sources and data.max_len")
    return corpus_train, corpus_val


def write_data_report(data: PreparedData, run_dir: str | Path) -> Path:
    """Write ``data/summary.json``, ``data/dropped.csv``, ``data/conflicts.csv`` and (when identity
    was measured) ``data/identity_dropped.csv`` atomically."""
    files = RunLayout(run_dir).data
    write_json(files.summary, data.summary)
    atomic_write_text(files.dropped, data.drop_log.to_csv())
    atomic_write_text(files.conflicts, data.conflicts.to_csv(index=False))
    if "identity" in data.summary:
        atomic_write_text(files.identity_dropped, data.identity_dropped.to_csv(index=False))
    return files.path
