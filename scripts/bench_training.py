"""Training-overhead benchmark: a Lightning fit against a plain PyTorch loop, same model and data.

Both train the default WAE (``model=wae``, composed from the packaged configs) on the default
corpus and data loader (with its augmentation) for the same number of optimizer steps, with the
same loss (``SequenceWAE.loss_terms``), Adam and gradient clipping. The Lightning
fit has no logger, checkpointing, progress bar or validation, so the ratio is Lightning's own loop
overhead (plus the ``self.log`` calls in ``training_step``). Runs alternate, and the median of
``--repeats`` pairs is reported.

    python scripts/bench_training.py --epochs 2 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import asdict

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module
from torch.utils.data import DataLoader

from latentgraph.config import validate_config
from latentgraph.data import PeptideDataModule, prepare_data
from latentgraph.models.wae import SequenceWAE
from latentgraph.pipeline.autoencoder import model_kwargs

with initialize_config_module(config_module="latentgraph.conf", version_base="1.3"):
    _CFG = validate_config(compose(config_name="config", overrides=["paths.run_dir=/tmp/unused"]))
MODEL = model_kwargs(_CFG.model)
DATA = asdict(_CFG.data)


def loader() -> DataLoader:
    module = PeptideDataModule(prepared=prepare_data(**DATA), **DATA)
    module.setup("fit")
    return module.train_dataloader()


def plain_loop(train: DataLoader, epochs: int) -> float:
    torch.manual_seed(0)
    model = SequenceWAE(**MODEL)
    optimizer = torch.optim.Adam(model.parameters(), lr=MODEL["lr"])
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for batch in train:
            loss = model.loss_terms(batch)["loss"]
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return time.perf_counter() - start


def lightning_fit(train: DataLoader, epochs: int) -> float:
    torch.manual_seed(0)
    model = SequenceWAE(**MODEL)
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
    )
    start = time.perf_counter()
    trainer.fit(model, train_dataloaders=train)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    train = loader()
    plain, lightning = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(train, args.epochs))
        lightning.append(lightning_fit(train, args.epochs))
    steps = args.epochs * len(train)
    p, lt = statistics.median(plain), statistics.median(lightning)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={torch.get_num_threads()} "
        f"torch={torch.__version__} pl={pl.__version__}"
    )
    print(f"steps per run: {steps} (batch {DATA['batch_size']}, {args.epochs} epochs), repeats: {args.repeats}")
    print(f"plain loop   median {p:.2f} s  ({[round(x, 2) for x in plain]})")
    print(f"lightning    median {lt:.2f} s  ({[round(x, 2) for x in lightning]})")
    print(f"ratio lightning / plain: {lt / p:.3f}")


if __name__ == "__main__":
    main()
