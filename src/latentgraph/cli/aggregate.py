"""``latentgraph-aggregate MULTIRUN_DIR``: one CSV and one plot for every job of a sweep."""

from __future__ import annotations

import argparse
import sys

from latentgraph.report.aggregate import collect, write_aggregate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentgraph-aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a Hydra multirun directory (outputs/multirun/<time>)")
    parser.add_argument("--out", default=None, help="where to write (default: the sweep directory)")
    args = parser.parse_args(argv)
    try:
        aggregate = collect(args.sweep_dir)
    except FileNotFoundError as error:
        print(f"latentgraph-aggregate: error: {error}", file=sys.stderr)
        return 2
    for path in write_aggregate(aggregate, args.out or args.sweep_dir):
        print(path)
    n_jobs = aggregate.summary["job"].nunique() if len(aggregate.summary) else 0
    print(f"{n_jobs} jobs with results", file=sys.stderr)
    for job in aggregate.missing:
        print(f"missing results: job {job}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
