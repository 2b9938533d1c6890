"""Data layer (docs/method.md §1, §1b): alphabets and tokenizer, sources, bad-record policy, dedup and splits."""

from latentgraph.data.alphabet import AMINO_ACIDS, VOCAB, detokenize, tokenize
from latentgraph.data.datamodule import PeptideDataModule, SequenceDataModule
from latentgraph.data.prepare import PreparedData, prepare_data, write_data_report
from latentgraph.data.records import BadRecordError, DataError

__all__ = [
    "AMINO_ACIDS",
    "VOCAB",
    "BadRecordError",
    "DataError",
    "PeptideDataModule",
    "SequenceDataModule",
    "PreparedData",
    "detokenize",
    "prepare_data",
    "tokenize",
    "write_data_report",
]
