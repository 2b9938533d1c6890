"""WAE training benchmarks on the default corpus, in one process.

``time-to-accuracy`` (the default) trains several configurations epoch by epoch, interleaved (one
epoch of each in turn), and reports for each the training wall time (validation excluded) until
the held-out greedy token accuracy first reaches ``--target`` (0.79), and the curve. "today" is
the configuration before the speed levers (batch 64, lr 3e-3, no length buckets, the plain
decoder, ``nn.GRU`` in training); "new" is the current default (``conf/``; on CPU the packed
recurrence, ``model.recurrence=auto``); every fit may run ``--max-epochs`` epochs (its
``trainer.max_epochs``, which a cosine schedule spans); ``--also`` adds candidates as override lists
(the levers measured: ``data.bucket_by_length=true``, larger batches with a larger learning rate,
``trainer.precision=bf16-mixed``, ``model.lr_schedule=cosine`` with fewer epochs). Held-out
accuracy is always measured in float32, as the perturbation decodes. Every other setting is the
default's. All use the pipeline's training step exactly: the datamodule's order and augmentation,
per-step seeding, ``SequenceWAE.loss_terms``, Adam and gradient clipping at 1.0; only Lightning's
loop is replaced by a plain one, so that the fits can alternate epochs (``overhead`` measures what
Lightning's loop adds).

``overhead`` trains the default WAE with a Lightning fit and with the plain loop for the same
steps and reports the ratio.

    python scripts/bench_training.py time-to-accuracy --max-epochs 60
    python scripts/bench_training.py overhead --epochs 2 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module

from latentgraph.config import Config, validate_config
from latentgraph.data import SequenceDataModule, prepare_data
from latentgraph.data.augment import crop_residues, substitute_residues
from latentgraph.data.datamodule import FitPosition
from latentgraph.models.lr_schedule import learning_rate_factor
from latentgraph.models.wae import SequenceWAE, reconstruction_accuracy
from latentgraph.pipeline.autoencoder import model_kwargs
from latentgraph.seeding import AUGMENT_STREAM, MODEL_STREAM, derived_seed


def default_settings(*overrides: str) -> Config:
    with initialize_config_module(config_module="latentgraph.conf", version_base="1.3"):
        return validate_config(compose(config_name="config", overrides=["paths.run_dir=/tmp/unused", *overrides]))


TODAY = (
    "data.batch_size=64",
    "model.lr=0.003",
    "data.bucket_by_length=false",
    "model.folded_decode=false",
    "model.recurrence=nn",
)


@dataclass
class Fit:
    """One configuration's model, optimiser, data and clock, trained an epoch at a time."""

    name: str
    settings: Config
    data: object
    seconds: float = 0.0
    steps: int = 0
    epochs: int = 0
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (epoch, seconds, held-out token acc)

    def __post_init__(self) -> None:
        torch.manual_seed(self.settings.seed)
        self.model = SequenceWAE(**model_kwargs(self.settings.model, self.settings.data.alphabet))
        # Adam as SequenceWAE.configure_optimizers builds it (fused since 2026-11-30; "today" is before)
        fused = self.name != "today"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.settings.model.lr, fused=fused)
        self.module = SequenceDataModule(self.settings.data, prepared=self.data, seed=self.settings.seed)
        self.module.setup("fit")
        self.module.fit_position = lambda: FitPosition(self.epochs, 0)  # the sampler's epoch, no Trainer
        total = self.settings.trainer.max_epochs * len(self.module.train_dataloader())
        schedule = str(self.settings.model.lr_schedule)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate_factor(schedule, step, total)
        )
        # Lightning's "bf16-mixed" on CPU is this autocast around the training step
        self.bf16 = str(self.settings.trainer.precision).startswith("bf16")

    def _augment(self, batch: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(derived_seed(self.settings.seed, AUGMENT_STREAM, self.steps, 0))
        batch = crop_residues(batch, self.module.augment_crop, generator)
        return substitute_residues(batch, self.module.augment_substitution, generator)

    def train_epoch(self) -> None:
        self.model.train()
        start = time.perf_counter()
        for batch in self.module.train_dataloader():
            self.model.reseed(derived_seed(self.settings.seed, MODEL_STREAM, self.steps, 0))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                loss = self.model.loss_terms(self._augment(batch))["loss"]
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.steps += 1
        self.seconds += time.perf_counter() - start
        self.epochs += 1

    @torch.no_grad()
    def held_out_accuracy(self) -> float:
        self.model.eval()
        hits = total = 0.0
        for batch in self.module.val_dataloader():
            mu, _ = self.model.encode_tokens(batch)
            accuracy, _ = reconstruction_accuracy(batch[:, 1:], self.model.generate(mu, sample=False))
            positions = float((batch[:, 1:] != 0).sum())
            hits, total = hits + float(accuracy) * positions, total + positions
        return hits / total


def time_to_accuracy(args: argparse.Namespace) -> None:
    epochs = f"trainer.max_epochs={args.max_epochs}"  # every fit may run as long as the loop (a candidate may override)
    new = default_settings(epochs)
    today = default_settings(epochs, *TODAY)
    data = prepare_data(new.data)
    fits = [Fit("today", today, data)] + ([] if args.skip_new else [Fit("new", new, data)])
    fits += [Fit(" ".join(extra), default_settings(epochs, *extra), data) for extra in (a.split() for a in args.also)]
    reached: dict[str, tuple[int, float] | None] = {fit.name: None for fit in fits}
    for _ in range(args.max_epochs):
        for fit in fits:
            if reached[fit.name] is not None or fit.epochs >= fit.settings.trainer.max_epochs:
                continue
            fit.train_epoch()
            accuracy = fit.held_out_accuracy()
            fit.curve.append((fit.epochs, fit.seconds, accuracy))
            print(
                f"{fit.name:6s} epoch {fit.epochs:3d}  {fit.seconds:7.1f} s  held-out token acc {accuracy:.4f}",
                flush=True,
            )
            if accuracy >= args.target:
                reached[fit.name] = (fit.epochs, fit.seconds)
        if all(value is not None for value in reached.values()):
            break
    print(f"machine: {platform.machine()} threads={torch.get_num_threads()} torch={torch.__version__}")
    for fit in fits:
        settings = fit.settings
        print(
            f"{fit.name}: batch {settings.data.batch_size}, lr {settings.model.lr} {settings.model.lr_schedule}, "
            f"precision {settings.trainer.precision}, max_epochs {settings.trainer.max_epochs}, "
            f"bucket_by_length={settings.data.bucket_by_length}, folded_decode={settings.model.folded_decode}, "
            f"recurrence={settings.model.recurrence}; "
            f"{len(fit.module.train_dataloader())} steps/epoch; "
            + (
                f"reached {args.target} at epoch {reached[fit.name][0]} after {reached[fit.name][1]:.1f} s"
                if reached[fit.name]
                else f"did not reach {args.target} in {fit.epochs} epochs ({fit.seconds:.1f} s)"
            )
        )
        for level in sorted({0.75, 0.78, args.target}):
            first = next(((epoch, seconds) for epoch, seconds, acc in fit.curve if acc >= level), None)
            print(f"    to {level}: " + (f"epoch {first[0]}, {first[1]:.1f} s" if first else "not reached"))
    if not args.skip_new and all(reached.values()):
        print(f"time-to-accuracy ratio today / new: {reached['today'][1] / reached['new'][1]:.2f}x")


def overhead(args: argparse.Namespace) -> None:
    settings = default_settings()
    data = prepare_data(settings.data)
    plain, lightning = [], []
    for _ in range(args.repeats):
        fit = Fit("plain", settings, data)
        for _ in range(args.epochs):
            fit.train_epoch()
        plain.append(fit.seconds)
        lightning.append(lightning_fit(settings, data, args.epochs))
    p, lt = statistics.median(plain), statistics.median(lightning)
    print(
        f"machine: {platform.machine()} threads={torch.get_num_threads()} torch={torch.__version__} pl={pl.__version__}"
    )
    print(f"plain loop   median {p:.2f} s  ({[round(x, 2) for x in plain]})")
    print(f"lightning    median {lt:.2f} s  ({[round(x, 2) for x in lightning]})")
    print(f"ratio lightning / plain: {lt / p:.3f}")


def lightning_fit(settings: Config, data, epochs: int) -> float:
    torch.manual_seed(settings.seed)
    model = SequenceWAE(**model_kwargs(settings.model, settings.data.alphabet))
    module = SequenceDataModule(settings.data, prepared=data, seed=settings.seed)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        gradient_clip_val=1.0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=module)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    tta = sub.add_parser("time-to-accuracy")
    tta.add_argument("--target", type=float, default=0.79)
    tta.add_argument("--max-epochs", type=int, default=60)
    tta.add_argument(
        "--skip-new", action="store_true", help="leave out the current default (when it equals a candidate)"
    )
    tta.add_argument("--also", action="append", default=[], help='more candidates, e.g. "data.batch_size=256"')
    over = sub.add_parser("overhead")
    over.add_argument("--epochs", type=int, default=2)
    over.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.command == "overhead":
        overhead(args)
    else:
        if args.command is None:
            args = tta.parse_args([])
        time_to_accuracy(args)


if __name__ == "__main__":
    main()
