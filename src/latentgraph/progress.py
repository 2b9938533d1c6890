"""Progress on long work, by one rule for every stage: a rich bar on a terminal, plain log lines off one.

A SLURM or ``nohup`` log is not a terminal, and a bar there is either nothing until the end or
screens of control characters. So bars are drawn only when they are wanted
(``trainer.enable_progress_bar``) *and* standard output is a terminal; otherwise each stage writes
plain log lines: what, how far, seconds so far and about how many left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def show_bars(wanted: bool = True) -> bool:
    """The rule: a bar when one is wanted and standard output is a terminal; log lines otherwise."""
    return bool(wanted) and Console().is_terminal


def progress_bar() -> Progress:
    """The project's bar: description, bar, done/total, time left."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False
    )


@contextmanager
def progress_steps(
    what: str, total: int, logger: logging.Logger, *, bars: bool, lines: int | None = None
) -> Iterator[Callable[..., None]]:
    """Yield ``advance(amount=1, note="")``: a bar's step when ``bars``, else a log line.

    Off a terminal, every step logs a line unless ``lines`` caps them: then about ``lines``
    evenly spaced lines, and the last one, are written.
    """
    if bars:
        with progress_bar() as bar:
            task = bar.add_task(what, total=total)
            yield lambda amount=1, note="": bar.advance(task, amount)
        return
    started, done, every = time.perf_counter(), 0, max(1, total // lines) if lines else 1
    last_logged = 0

    def advance(amount: int = 1, note: str = "") -> None:
        nonlocal done, last_logged
        done += amount
        if done < total and done - last_logged < every:
            return
        last_logged = done
        elapsed = time.perf_counter() - started
        left = elapsed / done * (total - done) if done else 0.0
        suffix = f" ({note})" if note else ""
        logger.info("%s: %d/%d%s after %.1f s, about %.0f s left", what, done, total, suffix, elapsed, left)

    yield advance
