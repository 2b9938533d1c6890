"""``latentgraph-aggregate MULTIRUN_DIR``: one CSV and one plot for every job of a sweep; for a sweep
whose jobs compared blankets (``latentgraph -m experiment=study``), also the study's tables and
forest plot (``study.md``, ``study_forest.png``), and with ``--docs FILE`` the same tables written
between that file's study markers."""

from __future__ import annotations

import argparse
import sys

from latentgraph.report.aggregate import collect, write_aggregate
from latentgraph.report.study import write_study
from latentgraph.run_layout import SweepLayout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentgraph-aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a Hydra multirun directory (outputs/multirun/<time>)")
    parser.add_argument("--out", default=None, help="where to write (default: the sweep directory)")
    parser.add_argument("--docs", default=None, help="a markdown file whose study markers receive the study tables")
    args = parser.parse_args(argv)
    try:
        aggregate = collect(args.sweep_dir)
    except FileNotFoundError as error:
        print(f"latentgraph-aggregate: error: {error}", file=sys.stderr)
        return 2
    for path in write_aggregate(aggregate, args.out or args.sweep_dir):
        print(path)
    if any(job.results.comparisons.is_file() for job in SweepLayout(args.sweep_dir).jobs()):
        try:
            for path in write_study(args.sweep_dir, docs=args.docs):
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
