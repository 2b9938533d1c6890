"""The data stage: read and split the configured sources, write and print what was kept and dropped."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.table import Table

from latentgraph.config.schema import DataConfig
from latentgraph.data import PreparedData, prepare_data, write_data_report

log = logging.getLogger(__name__)


def data_stage(settings: DataConfig, run_dir: Path) -> PreparedData:
    """Read and split the configured sources; write ``data/`` and print the data report."""
    data = prepare_data(settings)
    write_data_report(data, run_dir)
    print_data_summary(data)
    return data


def print_data_summary(data: PreparedData, console: Console | None = None) -> None:
    """A rich table of what was read, kept and dropped."""
    table = Table(title="data", show_lines=False)
    for column in ("source", "read", "duplicates", "label conflicts", "kept"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for name, row in data.summary["sources"].items():
        table.add_row(
            name,
            str(row["read"]),
            str(row["duplicates_removed"]),
            str(row["conflicting_sequences_removed"]),
            str(row["kept"]),
        )
    (console or Console()).print(table)
    s = data.summary
    log.info(
        "ID %s: train %d / val %d / test %d; OOD: %s; autoencoder corpus: train %d / val %d",
        s["id"]["name"],
        s["id"]["train"],
        s["id"]["val"],
        s["id"]["test"],
        ", ".join(f"{k} {v['n']}" for k, v in s["ood"].items()) or "none",
        s["corpus"]["train"],
        s["corpus"]["val"],
    )
    if data.drop_log.total:
        log.warning(
            "dropped %d bad records (%s); see data/dropped.csv",
            data.drop_log.total,
            "; ".join(f"{src}: {reasons}" for src, reasons in data.drop_log.summary().items()),
        )
