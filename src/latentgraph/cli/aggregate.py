"""``latentgraph-aggregate MULTIRUN_DIR``: one CSV and one plot for every job of a sweep; for a sweep
whose jobs compared blankets (``latentgraph -m experiment=study``), also the study's tables and
forest plot (``study.md``, ``study_forest.png``), and with ``--docs FILE`` the same tables written
between that file's study markers. ``--archive DIR`` first copies the files those tables read
into ``DIR`` (a sweep folder of its own) and makes the tables from there, so that a study whose
shifts ran at different times, or whose run folders are gone, keeps one set of tables."""

from __future__ import annotations

import argparse
import sys

from latentgraph.report.aggregate import collect, write_aggregate
from latentgraph.report.study import archive_study, write_study
from latentgraph.run_layout import SweepLayout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentgraph-aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a Hydra multirun directory (outputs/multirun/<time>)")
    parser.add_argument("--out", default=None, help="where to write (default: the sweep directory)")
    parser.add_argument("--docs", default=None, help="a markdown file whose study markers receive the study tables")
    parser.add_argument(
        "--archive", default=None, help="copy the files the study tables read into this folder and read them there"
    )
    args = parser.parse_args(argv)
    try:
        aggregate = collect(args.sweep_dir)
    except FileNotFoundError as error:
        print(f"latentgraph-aggregate: error: {error}", file=sys.stderr)
        return 2
    for path in write_aggregate(aggregate, args.out or args.sweep_dir):
        print(path)
    study_dir = args.sweep_dir
    if args.archive is not None:
        archive_study(args.sweep_dir, args.archive)
        study_dir = args.archive
    if any(job.results.comparisons.is_file() for job in SweepLayout(study_dir).jobs()):
        try:
            for path in write_study(study_dir, docs=args.docs):
                print(path)
        except ValueError as error:
            print(f"latentgraph-aggregate: error: {error}", file=sys.stderr)
            return 2
    n_jobs = aggregate.summary["job"].nunique() if len(aggregate.summary) else 0
    print(f"{n_jobs} jobs with results", file=sys.stderr)
    for job in aggregate.missing:
        print(f"missing results: job {job}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
