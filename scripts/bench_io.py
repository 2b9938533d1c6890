"""Large-input benchmark: read, validate and tokenize a FASTA of 1,000,000 generated peptides.

The file is generated first (lengths 8-50, 60-column line wrapping for a tenth of the records, and
0.5% bad records: a non-canonical residue, an empty record or one longer than ``max_len``). Each
reader then runs in its own fresh Python process, so its peak resident memory (``ru_maxrss``) is
its own, imports included:

- ``stream``: :func:`latentgraph.data.streaming.stream_token_chunks` (chunks of 65,536 records,
  vectorised validation and tokenization), keeping only a count of the token rows;
- ``whole``: :func:`latentgraph.data.sources.read_source` (the reader ``prepare_data`` uses; one
  data frame of every sequence), then one tokenization of all of them, for comparison.

    python scripts/bench_io.py --n 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

MAX_LEN = 50
AMINO_ACIDS = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)


def write_fasta(path: str, n: int, seed: int = 0) -> int:
    """Write ``n`` records; return how many of them are bad."""
    rng = np.random.default_rng(seed)
    bad = 0
    with open(path, "w") as handle:
        for start in range(0, n, 100_000):
            size = min(100_000, n - start)
            lengths = rng.integers(8, MAX_LEN + 1, size=size)
            letters = AMINO_ACIDS[rng.integers(0, 20, size=int(lengths.sum()))].tobytes().decode()
            kind = rng.random(size)
            out, position = [], 0
            for i, length in enumerate(lengths):
                sequence = letters[position : position + length]
                position += length
                if kind[i] < 0.002:
                    sequence, bad = sequence[:3] + "X" + sequence[4:], bad + 1
                elif kind[i] < 0.003:
                    sequence, bad = "", bad + 1
                elif kind[i] < 0.005:
                    sequence, bad = sequence + "A" * MAX_LEN, bad + 1
                if kind[i] > 0.9:  # wrapped at 60 columns, as many FASTA writers do
                    sequence = "\n".join(sequence[j : j + 60] for j in range(0, len(sequence), 60))
                out.append(f">pep{start + i} generated\n{sequence}\n")
            handle.write("".join(out))
    return bad


def read(path: str, mode: str) -> dict:
    """Run in a fresh process: read the file one way, report rows, drops, seconds and peak RSS."""
    from latentgraph.data.records import DropLog

    started = time.perf_counter()
    drops = DropLog()
    if mode == "stream":
        from latentgraph.data.streaming import stream_token_chunks

        rows = sum(len(chunk) for chunk in stream_token_chunks(path, MAX_LEN, drop_log=drops))
    else:
        from latentgraph.data.alphabet import tokenize_numpy
        from latentgraph.data.records import RecordFilter
        from latentgraph.data.sources import parse_source_spec, read_source

        frame = read_source(parse_source_spec(path), RecordFilter(max_len=MAX_LEN, policy="drop", drop_log=drops))
        rows = len(tokenize_numpy(list(frame["sequence"]), MAX_LEN))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"mode": mode, "rows": rows, "dropped": drops.total, "seconds": seconds, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--read", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read(*args.read)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "generated.fasta")
        started = time.perf_counter()
        bad = write_fasta(path, args.n)
        size_mb = os.path.getsize(path) / 2**20
        print(
            f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
        )
        print(f"generated {args.n:,} records ({bad:,} bad), {size_mb:.0f} MB, in {time.perf_counter() - started:.1f} s")
        for mode in ("stream", "whole"):
            result = json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--read", path, mode], check=True, capture_output=True, text=True
                ).stdout
            )
            assert result["rows"] + result["dropped"] == args.n and result["dropped"] == bad, result
            print(
                f"{mode:>6}: {result['rows']:,} rows kept, {result['dropped']:,} dropped, "
                f"{result['seconds']:.2f} s = {args.n / result['seconds'] / 1e3:.0f}k sequences/s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()
