"""Perturbation benchmark: the batched engine vs a naive loop, and decode GFLOP/s vs a torch.mm peak.

Both sides use the same WAE (a checkpoint, or the default-size model freshly initialised), the
same N base codes, all d latents and the same K steps, and the same twelve descriptors:

* batched: ``run_perturbation`` with the descriptor attribute set, ``batch_size`` codes per chunk;
* naive: one latent and one step at a time (N codes per decode call), and each decoded sequence
  scored on its own by modlamp (``GlobalDescriptor.calculate_all`` plus Eisenberg
  ``PeptideDescriptor`` global and moment), the way a per-sequence script would do it.

The engine's permutation test is excluded from its timing (``n_permutations=99``), since the
naive loop runs none. Decode FLOPs are counted from the GRU and output-layer sizes and the steps
each chunk ran; the peak is the best of several ``torch.mm`` of 2048×2048 float32 matrices.

    python scripts/bench_perturbation.py --checkpoint outputs/runs/<run>/checkpoints/last.ckpt --n-base 64
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from latentgraph.attributes import DESCRIPTOR_NAMES, build_attribute_set
from latentgraph.models.wae import SequenceWAE
from latentgraph.perturbation import run_perturbation
from latentgraph.perturbation.engine import perturbed_codes


def load_model(checkpoint: str | None, device: str) -> SequenceWAE:
    if checkpoint:
        return SequenceWAE.load_from_checkpoint(checkpoint, map_location=device).eval()
    torch.manual_seed(0)
    return SequenceWAE().to(device).eval()  # the default sizes (model=wae)


def decode_flops_per_step(model: SequenceWAE) -> float:
    """Multiply-adds ×2 of one greedy decode step for one sequence: GRU gates and the output layer."""
    gru = model.decoder
    flops = 0.0
    for layer in range(gru.num_layers):
        inputs = gru.input_size if layer == 0 else gru.hidden_size
        flops += 2 * 3 * gru.hidden_size * (inputs + gru.hidden_size)
    return flops + 2 * model.to_logits.in_features * model.to_logits.out_features


def mm_peak_gflops(device: str, size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def naive(model: SequenceWAE, base: torch.Tensor, deltas: torch.Tensor) -> float:
    from modlamp.descriptors import GlobalDescriptor, PeptideDescriptor

    start = time.perf_counter()
    n, d = base.shape
    for j in range(d):
        for k in range(len(deltas)):
            rows = torch.arange(n, device=base.device) * d * len(deltas) + j * len(deltas) + k
            codes = perturbed_codes(base, rows, deltas.to(base.device), torch.ones(d, device=base.device))
            for sequence in model.decode(codes):
                if not sequence:
                    continue
                GlobalDescriptor([sequence]).calculate_all(ph=7.0, amide=False)
                eisenberg = PeptideDescriptor([sequence], "eisenberg")
                eisenberg.calculate_global()
                eisenberg.calculate_moment()
    return time.perf_counter() - start


class StepCounter:
    """Wraps ``model.generate`` to count rows × steps actually decoded."""

    def __init__(self, model: SequenceWAE):
        self.model, self.original, self.row_steps = model, model.generate, 0
        model.generate = self

    def __call__(self, z, **kwargs):
        out = self.original(z, **kwargs)
        finished = (out == 2).any(dim=1)  # <eos>
        steps = int(((out != 0).sum(dim=1)).max()) if len(out) else 0
        self.row_steps += len(out) * (steps if bool(finished.all()) else out.shape[1])
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--n-base", type=int, default=64)
    parser.add_argument("--deltas", type=float, nargs="+", default=[-2.0, -1.0, 1.0, 2.0])
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of the plain and folded decode")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU")
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="also time the folded decode under bfloat16 autocast and count changed decodes",
    )
    args = parser.parse_args()

    model = load_model(args.checkpoint, args.device)
    model.hparams.folded_decode = False  # the GFLOP/s and naive-loop lines measure the plain GRU decode
    attributes = build_attribute_set(
        name="descriptors", descriptors=DESCRIPTOR_NAMES, max_len=model.max_len, bad_records="drop"
    )
    counter = StepCounter(model)
    settings = dict(
        n_base=args.n_base,
        deltas=args.deltas,
        seed=0,
        batch_size=args.batch_size,
        n_permutations=99,
        latent_scale="unit",
        progress=False,
    )
    with torch.inference_mode():
        result = run_perturbation(model, attributes, **settings)
        flops = counter.row_steps * decode_flops_per_step(model)
        t_batched = result.info["seconds"]
        peak = mm_peak_gflops(args.device)
        achieved = flops / result.info["decode_seconds"] / 1e9
        device = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.machine()
        print(f"machine: {device} threads={torch.get_num_threads()} torch={torch.__version__}")
        print(
            f"model: latent {model.latent_dim}, decoder hidden {model.decoder.hidden_size}; N={args.n_base} "
            f"d={model.latent_dim} K={len(args.deltas)}: {result.info['decodes']} decodes"
        )
        print(
            f"batched engine (batch {args.batch_size}): {t_batched:8.2f} s  "
            f"(decode {result.info['decode_seconds']:.2f} s)"
        )
        print(
            f"decode: {flops / 1e9:.1f} GFLOP, {achieved:.1f} GFLOP/s; torch.mm peak {peak:.1f} GFLOP/s "
            f"-> {100 * achieved / peak:.0f}% of peak"
        )
        del model.generate  # the class's own method again
        per_code: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            for folded in (False, True):
                model.hparams.folded_decode = folded
                run = run_perturbation(model, attributes, **settings)
                per_code[folded].append(run.info["decode_seconds"] / run.info["decodes"])
        plain, folded = statistics.median(per_code[False]), statistics.median(per_code[True])
        print(
            f"decode seconds per perturbed code (median of {args.repeats}): plain GRU {1e3 * plain:.3f} ms, "
            f"folded input projection + finished rows leave {1e3 * folded:.3f} ms -> {plain / folded:.2f}x fewer"
        )
        if args.bf16:
            bf16_runs = []
            for _ in range(args.repeats):
                with torch.autocast(device_type=args.device.split(":")[0], dtype=torch.bfloat16):
                    bf16_run = run_perturbation(model, attributes, **settings)
                bf16_runs.append(bf16_run.info["decode_seconds"] / bf16_run.info["decodes"])
            same = torch.isclose(bf16_run.effects, run.effects, rtol=0.0, atol=0.0, equal_nan=True)
            changed = (~same).any(dim=-1).float().mean().item()
            bf16 = statistics.median(bf16_runs)
            print(
                f"folded decode under bfloat16 autocast: {1e3 * bf16:.3f} ms per perturbed code -> "
                f"{plain / bf16:.2f}x fewer than plain, {folded / bf16:.2f}x fewer than folded float32; "
                f"{100 * changed:.1f}% of (base, latent, step) effect rows differ from float32"
            )
        model.hparams.folded_decode = False
        if not args.skip_naive:
            t_naive = naive(model, result.base_codes, torch.tensor(args.deltas))
            print(
                f"naive loop (per latent, per step, modlamp per sequence): {t_naive:8.2f} s   "
                f"ratio {t_naive / t_batched:6.1f}x"
            )


if __name__ == "__main__":
    main()
