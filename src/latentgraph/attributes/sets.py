"""Attribute sets: every oracle of a run behind one callable (docs/method.md §2).

An :class:`AttributeSet` has ``names`` and maps a batch of sequences (a ``list[str]`` or a token
tensor from :func:`latentgraph.data.alphabet.tokenize`) to a ``float32`` tensor ``[n, m]``, one
column per name. It is built from blocks, each computing a few columns at once:

* :class:`DescriptorBlock`: the vectorised peptide descriptors, sharing one residue-count pass;
* :class:`~latentgraph.attributes.molecular.MoleculeDescriptorBlock`: RDKit descriptors of
  molecules (the molecule domain);
* :class:`ClassifierBlock`: a trained :class:`~latentgraph.attributes.classifier.SequenceClassifier`
  (its value is the predicted probability);
* external models such as :class:`~latentgraph.attributes.macrel.MacrelBlock`.

Each column may be the *oracle* of a labelled property (``oracle_for``): the ``amp`` classifier
and macrel's AMP model are both oracles for ``amp``. :meth:`AttributeSet.features_for` drops
every oracle of the target, so a predictor of ``amp`` is never handed an ``amp`` oracle.

Bad input follows the data layer's policy (``data.bad_records``): a sequence that is empty,
longer than ``max_len``, holds a symbol outside the set's alphabet (for peptides: a non-canonical
letter) or (SMILES) is not a molecule raises :class:`BadRecordError` naming its
index under ``strict``; under ``drop`` its row is NaN in every column, it is counted in
:attr:`AttributeSet.drop_log` and a warning says how many rows were skipped. No NaN is silent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import torch

from latentgraph.attributes.classifier import SequenceClassifier
from latentgraph.attributes.descriptors import DESCRIPTOR_NAMES, compute_descriptors
from latentgraph.attributes.user_oracles import UserOracleBlock
from latentgraph.config.schema import OracleSpec
from latentgraph.data.alphabet import BOS, PEPTIDES, Alphabet, get_alphabet
from latentgraph.data.records import (
    BadRecordPolicy,
    DropLog,
    DroppedRecord,
    RecordFilter,
    RecordProblem,
    check_sequence,
    screen_sequences,
)

log = logging.getLogger(__name__)


@dataclass
class SequenceBatch:
    """The same valid sequences as strings and as tokens; each form is made only when asked for."""

    max_len: int
    given_sequences: list[str] | None = None
    given_tokens: torch.Tensor | None = None
    alphabet: Alphabet = PEPTIDES

    @cached_property
    def sequences(self) -> list[str]:
        if self.given_sequences is not None:
            return self.given_sequences
        return self.alphabet.detokenize(self.given_tokens)

    @cached_property
    def tokens(self) -> torch.Tensor:
        if self.given_tokens is not None:
            return self.given_tokens
        return self.alphabet.tokenize(self.given_sequences, self.max_len)

    def __len__(self) -> int:
        return len(self.given_sequences) if self.given_sequences is not None else len(self.given_tokens)


class AttributeBlock(Protocol):
    """A group of attributes computed together."""

    names: list[str]
    oracle_for: dict[str, str]  # column name -> the labelled property it predicts

    def __call__(self, batch: SequenceBatch) -> torch.Tensor:  # [n, len(names)]
        ...


class DescriptorBlock:
    """The vectorised descriptors of :mod:`latentgraph.attributes.descriptors` (no oracles)."""

    def __init__(self, names: Sequence[str] = DESCRIPTOR_NAMES):
        unknown = sorted(set(names) - set(DESCRIPTOR_NAMES))
        if unknown:
            raise KeyError(f"unknown descriptor(s) {unknown}; known: {', '.join(DESCRIPTOR_NAMES)}")
        self.names = list(names)
        self.oracle_for: dict[str, str] = {}

    def __call__(self, batch: SequenceBatch) -> torch.Tensor:
        return compute_descriptors(batch.tokens, self.names)


class ClassifierBlock:
    """A trained sequence classifier; its column is named after, and is an oracle for, its label."""

    def __init__(self, model: SequenceClassifier, *, batch_size: int = 1024):
        self.model = model.eval()
        self.batch_size = batch_size
        self.names = [model.hparams.name]
        self.oracle_for = {model.hparams.name: model.hparams.name}

    @torch.inference_mode()
    def __call__(self, batch: SequenceBatch) -> torch.Tensor:
        return self.model.proba_from_tokens(batch.tokens, batch_size=self.batch_size)[:, None]


class SelectedColumns:
    """Some columns of a block (the block still computes all of them, then they are picked)."""

    def __init__(self, block: AttributeBlock, names: list[str]):
        self.block = block
        self.names = names
        self.oracle_for = {name: prop for name, prop in block.oracle_for.items() if name in names}
        self._index = [block.names.index(name) for name in names]

    def __call__(self, batch: SequenceBatch) -> torch.Tensor:
        return self.block(batch)[:, self._index]


def _columns_of(block: AttributeBlock, keep: Callable[[str], bool]) -> AttributeBlock | None:
    """``block`` itself if every column is kept, its kept columns, or ``None`` if none is."""
    names = [name for name in block.names if keep(name)]
    if names == block.names:
        return block
    return SelectedColumns(block, names) if names else None


@dataclass
class AttributeSet:
    """Named attributes of a batch of sequences: ``attribute_set(sequences) -> Tensor[n, m]``.

    Args:
        blocks: the attribute blocks, whose columns are concatenated in order.
        max_len: the longest valid sequence (``data.max_len``).
        bad_records: ``"strict"`` or ``"drop"``, as ``data.bad_records``.
        name: the set's name, for reports (``attributes.set``).
        alphabet: the sequences' alphabet (``data.alphabet``); peptides by default.
    """

    blocks: list[AttributeBlock]
    max_len: int
    bad_records: BadRecordPolicy | str = BadRecordPolicy.drop
    name: str = "custom"
    drop_log: DropLog = field(default_factory=DropLog)
    alphabet: Alphabet = PEPTIDES

    def __post_init__(self) -> None:
        self.bad_records = BadRecordPolicy(self.bad_records)
        self._warned = False
        duplicated = sorted({n for n in self.names if self.names.count(n) > 1})
        if duplicated:
            raise ValueError(f"attribute names must be unique; repeated: {duplicated}")

    @property
    def names(self) -> list[str]:
        return [name for block in self.blocks for name in block.names]

    @property
    def oracle_for(self) -> dict[str, str]:
        return {name: prop for block in self.blocks for name, prop in block.oracle_for.items()}

    def __len__(self) -> int:
        return len(self.names)

    def __call__(self, batch: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """``float32 [n, m]``; rows of skipped (bad) sequences are NaN under ``drop``."""
        valid, clean = self._validate(batch)
        out = torch.full((len(valid), len(self)), float("nan"), dtype=torch.float32)
        if clean is not None and len(clean):
            columns = [block(clean).to(torch.float32).cpu() for block in self.blocks]
            out[valid] = torch.cat(columns, dim=1) if columns else torch.empty(len(clean), 0)
        return out

    def features_for(self, target: str) -> AttributeSet:
        """This set without any oracle of ``target`` (the attributes a predictor of it may use)."""
        blocks = [_columns_of(block, lambda name, b=block: b.oracle_for.get(name) != target) for block in self.blocks]
        return AttributeSet(
            [b for b in blocks if b is not None],
            self.max_len,
            self.bad_records,
            f"{self.name} without {target} oracles",
            self.drop_log,
            self.alphabet,
        )

    def oracle(self, target: str) -> AttributeSet:
        """The column(s) of this set that are oracles of ``target``; raises if there is none."""
        blocks = [_columns_of(block, lambda name, b=block: b.oracle_for.get(name) == target) for block in self.blocks]
        blocks = [b for b in blocks if b is not None]
        if not blocks:
            raise KeyError(
                f"attribute set {self.name!r} has no oracle for {target!r} (oracles: {self.oracle_for or 'none'})"
            )
        return AttributeSet(blocks, self.max_len, self.bad_records, f"{target} oracle", self.drop_log, self.alphabet)

    def _validate(self, batch: Sequence[str] | torch.Tensor) -> tuple[torch.Tensor, SequenceBatch | None]:
        """Mask of valid rows and the batch of valid sequences; apply the bad-record policy."""
        if isinstance(batch, torch.Tensor):
            sequences, tokens, problems = _screen_tokens(batch, self.max_len, self.alphabet)
        else:
            sequences, tokens, problems = _screen_sequences(list(batch), self.max_len, self.alphabet)
        valid = torch.ones(len(sequences), dtype=torch.bool)
        if not problems:
            return valid, SequenceBatch(self.max_len, sequences, tokens, self.alphabet)
        records = RecordFilter(
            max_len=self.max_len, policy=self.bad_records, drop_log=self.drop_log, alphabet=self.alphabet
        )
        for index, problem in problems.items():  # strict raises at the first, naming the row (1-based)
            records.reject(
                DroppedRecord("attribute input", index + 1, problem.reason, problem.detail, sequences[index])
            )
            valid[index] = False
        # warned once per set, then counted quietly: callers scoring many batches report the total
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        log.log(
            level,
            "attribute set %r: skipped %d of %d sequences (empty, too long, unknown symbols or not a molecule); their "
            "rows are NaN (counted in drop_log)",
            self.name,
            len(problems),
            len(valid),
        )
        kept = [s for s, ok in zip(sequences, valid.tolist()) if ok]
        return valid, SequenceBatch(self.max_len, kept, tokens[valid], self.alphabet)


def _screen_sequences(
    sequences: list[str], max_len: int, alphabet: Alphabet
) -> tuple[list[str], torch.Tensor, dict[int, RecordProblem]]:
    """:func:`~latentgraph.data.records.screen_sequences`, tokenized at full width (a too-long row is kept whole)."""
    width = max(int(alphabet.lengths(sequences).max(initial=0)), 1)
    tokens, problems = screen_sequences(sequences, max_len, width=width, alphabet=alphabet)
    return sequences, torch.from_numpy(tokens), problems


def _screen_tokens(
    tokens: torch.Tensor, max_len: int, alphabet: Alphabet
) -> tuple[list[str], torch.Tensor, dict[int, RecordProblem]]:
    """As :func:`_screen_sequences` for token rows (``<bos>`` optional, added when missing).

    A special token before ``<eos>`` (e.g. ``<unk>``) makes the row bad: detokenizing alone would
    drop it and hide the problem.
    """
    if len(tokens) and bool((tokens[:, 0] == BOS).all()):
        rows = tokens[:, 1:]
    else:  # the layout every block expects starts with <bos>
        rows, tokens = tokens, torch.cat([torch.full_like(tokens[:, :1], BOS), tokens], dim=1)
    sequences = alphabet.detokenize(rows)
    lengths = torch.from_numpy(alphabet.lengths(sequences))
    bad = ~alphabet.decoded_is_valid(rows) | (lengths > max_len)
    problems = {}
    for i in torch.nonzero(bad).flatten().tolist():
        problems[i] = check_sequence(sequences[i], max_len, alphabet) or RecordProblem(
            alphabet.unknown_reason, "a special token (e.g. <unk>) before <eos>, or no <eos>"
        )
    # re-tokenized so that nothing after a row's <eos> (or a missing <bos>) reaches a block
    width = int(lengths.max()) if len(lengths) else 1
    return sequences, torch.from_numpy(alphabet.tokenize_numpy(sequences, max(width, 1))), problems


def build_attribute_set(
    *,
    name: str,
    descriptors: Sequence[str],
    classifiers: Sequence[SequenceClassifier] = (),
    external: Sequence[str] = (),
    oracles: Mapping[str, OracleSpec] | None = None,
    max_len: int,
    bad_records: BadRecordPolicy | str,
    alphabet: str = "peptides",
    extra: Sequence[AttributeBlock] = (),
) -> AttributeSet:
    """The attribute set a config describes (``attributes.*``), from already trained classifiers,
    the user's ``oracles`` (:mod:`latentgraph.attributes.user_oracles`), plus ``extra`` blocks built
    by the run (the positive control's planted oracle).

    ``descriptors`` are peptide descriptors (:data:`~latentgraph.config.choices.DESCRIPTOR_NAMES`)
    for the peptide alphabet and RDKit descriptors
    (:data:`~latentgraph.config.choices.MOLECULE_DESCRIPTOR_NAMES`) for a molecule alphabet.

    Raises:
        ConfigValueError: an external model whose optional packages are not installed (the message
            says what to install).
    """
    symbols = get_alphabet(alphabet)
    blocks: list[AttributeBlock] = []
    if descriptors and symbols is PEPTIDES:
        blocks.append(DescriptorBlock(descriptors))
    elif descriptors:
        from latentgraph.attributes.molecular import MoleculeDescriptorBlock

        blocks.append(MoleculeDescriptorBlock(descriptors))
    blocks.extend(ClassifierBlock(model) for model in classifiers)
    for model in external:
        if model == "macrel":
            from latentgraph.attributes.macrel import MacrelBlock

            blocks.append(MacrelBlock())
        else:
            raise KeyError(f"unknown external attribute model {model!r}")
    blocks.extend(UserOracleBlock(name, spec) for name, spec in (oracles or {}).items())
    blocks.extend(extra)
    return AttributeSet(blocks, max_len, bad_records, name, alphabet=symbols)
