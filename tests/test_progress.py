"""One rule for progress: a bar on a terminal, plain log lines off one (a batch log)."""

from __future__ import annotations

import logging

from latentgraph.progress import progress_steps, show_bars


def test_off_a_terminal_no_bar_is_wanted():
    assert show_bars(True) is False  # pytest captures standard output: not a terminal
    assert show_bars(False) is False


def test_log_lines_say_how_far_and_how_long(caplog):
    logger = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        with progress_steps("work", 3, logger, bars=False) as advance:
            for name in ("a", "b", "c"):
                advance(note=name)
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" after ")[0] for line in lines] == ["work: 1/3 (a)", "work: 2/3 (b)", "work: 3/3 (c)"]
    assert all(line.endswith(" s left") for line in lines)


def test_capped_lines_are_evenly_spaced_and_end_with_the_last(caplog):
    logger = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        with progress_steps("resamples", 50, logger, bars=False, lines=5) as advance:
            for _ in range(50):
                advance()
        with progress_steps("chunks", 10, logger, bars=False) as advance:
            for rows in (4, 4, 2):
                advance(rows)  # chunks of 4 rows, the last one short
    counts = [record.getMessage().split(" after ")[0] for record in caplog.records]
    resamples = [f"resamples: {n}/50" for n in (10, 20, 30, 40, 50)]
    assert counts == [*resamples, "chunks: 4/10", "chunks: 8/10", "chunks: 10/10"]
