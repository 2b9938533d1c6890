"""The autoencoder stage: fit the WAE (or reuse it from the stage cache), with the perturbation
experiment attached to the fit's end when the fit runs.

Under DDP the perturbation is sharded over the fit's processes, which is why it runs as a
callback (:class:`~latentgraph.perturbation.PerturbationCallback`): the callback keeps its result,
and this stage hands it on in :attr:`AutoencoderResult.effects`.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from typing_extensions import override

from latentgraph.atomic import atomic_copy, write_json
from latentgraph.checkpoint_io import AtomicCheckpointIO
from latentgraph.config.choices import with_plain_strings
from latentgraph.config.schema import Config, ModelConfig
from latentgraph.data import PreparedData, SequenceDataModule
from latentgraph.data.alphabet import get_alphabet
from latentgraph.errors import ConfigValueError
from latentgraph.models.wae import SequenceWAE
from latentgraph.perturbation import PerturbationCallback, PerturbationResult
from latentgraph.pipeline.oracles import OracleStageResult
from latentgraph.pipeline.perturbation import engine_settings
from latentgraph.run_layout import RunLayout, WaeCacheFiles
from latentgraph.runtime.cache.keys import (
    COMPUTE_ONLY_MODEL_KEYS,
    SOURCE_MODEL_KEYS,
    fit_provenance,
    stage_cache,
    stale_fit_warning,
    wae_key,
)
from latentgraph.runtime.cache.store import StageCache
from latentgraph.runtime.lineage import declare
from latentgraph.runtime.tracking import RunLog, build_callbacks, fit_bars

log = logging.getLogger(__name__)

WAE_QUALITY_KEYS = ("val/recon", "val/token_acc", "val/exact_match", "val/prior_valid", "val/prior_unique")


@dataclass
class AutoencoderResult:
    """The fitted (or reused) WAE in eval mode, its validation quality, and its cache key.

    ``effects`` holds the perturbation result when the fit ran with the callback attached;
    ``worker`` is true in the extra DDP processes, whose job ends with their share of the fit;
    ``best_checkpoint`` names the fit's best checkpoint in the run's ``checkpoints/`` (``None``: no
    fit here, or nothing monitored).
    """

    model: SequenceWAE
    metrics: dict[str, float]
    key: str
    effects: PerturbationResult | None = None
    worker: bool = False
    best_checkpoint: str | None = None


def model_kwargs(settings: ModelConfig, alphabet: str = "peptides") -> dict:
    """``SequenceWAE`` arguments: the model settings with choices as plain strings (primitive
    hparams), and the data's alphabet (``data.alphabet``)."""
    kwargs = {k: v for k, v in with_plain_strings(asdict(settings)).items() if k not in SOURCE_MODEL_KEYS}
    return {**kwargs, "alphabet": str(alphabet)}


def autoencoder_stage(
    settings: Config, data: PreparedData, oracles: OracleStageResult, run_dir: Path, run_log: RunLog
) -> AutoencoderResult:
    """Fit the WAE, or reuse the fit stored under its settings' key (unless ``ckpt_path`` names one).

    Jobs that need the same key fit it once: the first holds the key's lock while it fits, the
    others wait and reuse its entry (a DDP worker process takes no lock: its rank zero holds it).
    """
    cache = stage_cache(settings)
    key = wae_key(settings)
    explicit = settings.ckpt_path if settings.ckpt_path not in (None, "last") else None
    if explicit is not None or _launched_worker():
        result = fit_autoencoder(settings, data, oracles, run_dir, run_log, cache, key, explicit)
    else:
        with cache.claim("wae", key) as hit:
            if hit is not None:
                result = reuse_autoencoder(hit, key, run_dir, run_log)
            else:
                result = fit_autoencoder(settings, data, oracles, run_dir, run_log, cache, key, None)
    if not result.worker:
        checkpoints = RunLayout(run_dir).checkpoints
        best = result.best_checkpoint
        declare(checkpoints.path, f"wae-{key}", "model", files=[checkpoints.last.name], best=best)
    return result


def _launched_worker() -> bool:
    """Whether this process is one of the extra DDP processes Lightning launched (local rank > 0)."""
    return int(os.environ.get("LOCAL_RANK", "0")) > 0


def reuse_autoencoder(hit: Path, key: str, run_dir: Path, run_log: RunLog) -> AutoencoderResult:
    """The cached fit in ``hit``: its weights and quality copied into the run, its provenance checked."""
    run = RunLayout(run_dir)
    log.info("stage wae: reused from cache key %s (%s)", key, hit)
    entry = WaeCacheFiles(hit)
    model = SequenceWAE.load_from_checkpoint(entry.model, map_location="cpu", weights_only=True).eval()
    run.checkpoints.path.mkdir(parents=True, exist_ok=True)
    atomic_copy(entry.model, run.checkpoints.last)
    metrics = json.loads(entry.quality.read_text())
    write_json(run.metrics.wae, metrics)
    recorded = json.loads(entry.provenance.read_text())
    stale = stale_fit_warning(recorded)
    if stale:
        log.warning(
            "stage wae: the cached fit is reused, but %s, so this code may fit another model with the same "
            "settings; to refit, point LATENTGRAPH_CACHE (paths.cache_dir) to an empty folder",
            stale,
        )
    write_json(run.metrics.wae_provenance, {**recorded, "reused": True, "stale": stale})
    run_log.metrics({f"wae/{k}": v for k, v in metrics.items()})
    return AutoencoderResult(model, metrics, key)


def fit_autoencoder(
    settings: Config,
    data: PreparedData,
    oracles: OracleStageResult,
    run_dir: Path,
    run_log: RunLog,
    cache: StageCache,
    key: str,
    explicit: str | None,
) -> AutoencoderResult:
    """Fit the WAE (from ``explicit``, or an interrupted fit under ``resume``), perturb it, store both."""
    run = RunLayout(run_dir)
    log.info("stage wae: computing (key %s)", key)
    resuming = settings.resume or settings.ckpt_path == "last"
    resume_from = explicit or (checkpoint_to_resume(cache, key) if resuming else None)
    cache.mark_unfinished("wae", key, run.checkpoints.last)
    callback = None
    if settings.perturbation.enabled:
        callback = PerturbationCallback(
            attributes=oracles.attributes,
            sequences=list(data.corpus_val),
            seed=settings.seed,
            **engine_settings(settings.perturbation),
        )
    else:
        log.info("perturbation: disabled (perturbation.enabled=false)")
    metrics, model, trainer = train_autoencoder(
        settings, run_dir, data, run_log, extra_callbacks=[callback] if callback else [], ckpt_path=resume_from
    )
    if trainer.global_rank > 0:  # a DDP worker: rank zero stores the results
        # save_checkpoint is collective: join rank zero's two saves below (a worker writes nothing)
        trainer.save_checkpoint(run.unused_checkpoint, weights_only=False)
        trainer.save_checkpoint(run.unused_checkpoint, weights_only=True)
        return AutoencoderResult(model, metrics, key, worker=True)
    # the run's last.ckpt is the final model (the periodic saves may end steps before the fit does),
    # a full resume point, written beside and renamed into place as every checkpoint is
    trainer.save_checkpoint(run.checkpoints.last, weights_only=False)
    provenance = fit_provenance()
    with cache.store("wae", key) as entry_dir:
        entry = WaeCacheFiles(entry_dir)
        trainer.save_checkpoint(entry.model, weights_only=True)
        write_json(entry.quality, metrics)
        write_json(entry.provenance, provenance)
    write_json(run.metrics.wae_provenance, {**provenance, "reused": False, "stale": None})
    cache.clear_unfinished("wae", key)
    run_log.step = trainer.global_step  # the graph and predictor numbers follow the training curves
    best = next((c.best_model_path for c in trainer.checkpoint_callbacks if c.best_model_path), None)
    effects = callback.result if callback else None
    return AutoencoderResult(model, metrics, key, effects, best_checkpoint=Path(best).name if best else None)


def check_resume_checkpoint(path: str, kwargs: dict) -> None:
    """Refuse a ``ckpt_path`` that cannot be read or was trained with other model settings.

    Lightning would fail deep inside ``load_state_dict`` with a tensor-size message; this names
    the setting and both values instead. Loading uses ``weights_only`` (no pickled code runs).
    """
    checkpoint = read_wae_checkpoint("ckpt_path", path)
    saved = checkpoint["hyper_parameters"]
    different = [
        f"model.{key}={saved[key]!r} in the checkpoint, {value!r} in this run"
        for key, value in kwargs.items()
        if key in saved and saved[key] != value and key not in (*COMPUTE_ONLY_MODEL_KEYS, "alphabet")
    ]
    different += alphabet_differences(checkpoint, kwargs.get("alphabet", "peptides"))
    if different:
        raise ConfigValueError("ckpt_path", path, "was trained with other model settings: " + "; ".join(different))


def read_wae_checkpoint(key: str, path: str | Path) -> dict:
    """The checkpoint in ``path`` (``weights_only``: no pickled code runs), or a
    :class:`ConfigValueError` naming ``key`` when it is truncated, corrupt or not a latentgraph WAE's."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        checkpoint["hyper_parameters"], checkpoint["state_dict"]  # noqa: B018 - both must be there
    except Exception as error:  # noqa: BLE001 - a truncated, corrupt or foreign file
        raise ConfigValueError(key, str(path), f"cannot be read as a latentgraph WAE checkpoint ({error})") from None
    return checkpoint


def alphabet_differences(checkpoint: dict, alphabet_name: str) -> list[str]:
    """How the checkpoint's alphabet differs from ``alphabet_name``'s (empty: it is the same), by name
    (a checkpoint that names none, or an unknown one, differs) and by the embedding's size."""
    alphabet, saved = get_alphabet(alphabet_name), checkpoint["hyper_parameters"].get("alphabet")
    try:
        saved_alphabet = get_alphabet(str(saved))
    except ValueError:
        saved_alphabet = None
    different = []
    if saved_alphabet is not alphabet:
        different.append(f"data.alphabet={saved!r} in the checkpoint, {alphabet.name!r} in this run")
    embedding = checkpoint["state_dict"].get("embedding.weight")
    if embedding is not None and embedding.shape[0] != alphabet.size:
        different.append(f"the alphabet: {embedding.shape[0]} tokens in the checkpoint, {alphabet.size} in this run")
    return different


def checkpoint_to_resume(cache: StageCache, key: str) -> str | None:
    """The most advanced readable ``last.ckpt`` of an interrupted fit with WAE key ``key``, if any.

    A rerun of a killed command has a new run directory (Hydra's timestamp), so ``resume=true``
    finds the interrupted fit by its settings, not by its directory.
    """
    best = most_advanced_checkpoint(cache, key, say=True)
    if best is None:
        log.warning(
            "resume: no interrupted fit with these settings (WAE key %s) left a checkpoint; training from the start",
            key,
        )
        return None
    log.info("resume: continuing the interrupted fit from %s (step %d)", best[1], best[0])
    return str(best[1])


def most_advanced_checkpoint(cache: StageCache, key: str, say: bool = False) -> tuple[int, Path] | None:
    """The step and path of the most advanced readable checkpoint of an unfinished fit of ``key``;
    ``say``: log each unreadable one."""
    best: tuple[int, Path] | None = None
    for path in cache.unfinished_checkpoints("wae", key):
        try:
            step = int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
        except Exception as error:  # an unreadable file is skipped, with a word why
            if say:
                log.warning("resume: skipping unreadable checkpoint %s (%s)", path, error)
            continue
        if best is None or step > best[0]:
            best = (step, path)
    return best


def wandb_run_to_resume(settings: Config) -> str | None:
    """The W&B run id of the run whose interrupted fit ``resume=true`` continues (``None``: no resume,
    no such fit, or that run logged to no W&B run), so the resumed run goes on in the same W&B run."""
    if not (settings.resume or settings.ckpt_path == "last") or not settings.logger.wandb.enabled:
        return None
    best = most_advanced_checkpoint(stage_cache(settings), wae_key(settings))
    if best is None:
        return None
    interrupted = RunLayout(best[1].parent.parent)  # <run dir>/checkpoints/last.ckpt
    runs = sorted(interrupted.path.glob("wandb/*run-*-*"), key=lambda path: path.name.split("run-", 1)[1])
    return runs[-1].name.rsplit("-", 1)[1] if runs else None


class LastValidation(pl.Callback):
    """Remembers the global step of the latest validation (sanity checks aside)."""

    def __init__(self) -> None:
        self.step: int | None = None

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.step = trainer.global_step


def train_autoencoder(
    settings: Config,
    run_dir: Path,
    data: PreparedData,
    run_log: RunLog,
    extra_callbacks: list[pl.Callback] = (),
    ckpt_path: str | None = None,
) -> tuple[dict[str, float], SequenceWAE, pl.Trainer]:
    """Fit the WAE on the corpus (continuing from ``ckpt_path`` if given); return its final
    validation quality metrics, the model (in eval mode) and the trainer.

    The stage seeds itself (seed 0 is a seed like any other), so its result does not depend on
    whether an earlier stage trained or came from the cache.
    """
    pl.seed_everything(settings.seed, workers=True, verbose=False)

    datamodule = SequenceDataModule(settings.data, prepared=data, seed=settings.seed)
    log.info("Instantiating model <%s>", SequenceWAE.__name__)
    kwargs = model_kwargs(settings.model, settings.data.alphabet)
    if ckpt_path is not None:
        check_resume_checkpoint(ckpt_path, kwargs)
    model = SequenceWAE(**kwargs)
    last_validation = LastValidation()
    callbacks = [*build_callbacks(settings, run_dir), last_validation, *extra_callbacks]
    log.info("Instantiating trainer <%s>", settings.trainer._target_)
    # partial, then called: the objects below reach the Trainer as Python lists (Hydra 1.3.2 would
    # wrap a list given to instantiate in a ListConfig, which Lightning takes for one plugin)
    make_trainer = hydra.utils.instantiate(
        {**asdict(settings.trainer), "enable_progress_bar": fit_bars(settings)},  # bars or EpochLines, one rule
        _partial_=True,
    )
    trainer: pl.Trainer = make_trainer(
        logger=run_log.loggers,
        callbacks=callbacks,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO()],  # every checkpoint whole or not at all, last.ckpt included
    )
    log.info(
        "stage wae: fitting on %s (%d device(s), %s, precision %s) for at most %d epochs",
        type(trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
        trainer.num_devices,
        type(trainer.strategy).__name__,
        trainer.precision,
        trainer.max_epochs,
    )
    with warnings.catch_warnings():
        # Lightning warns that a mid-epoch resume replays the epoch from a fresh shuffle; this
        # datamodule's order depends on (seed, epoch) only and skips the batches already trained
        warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    if last_validation.step != trainer.global_step and trainer.limit_val_batches and not trainer.interrupted:
        # validation runs every trainer.check_val_every_n_epoch epochs: the reported quality is the final model's
        trainer.validate(model, datamodule=datamodule, verbose=False)

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k in WAE_QUALITY_KEYS}
    metrics["global_step"] = trainer.global_step
    metrics["epochs"] = trainer.current_epoch
    if trainer.is_global_zero:
        write_json(RunLayout(run_dir).metrics.wae, metrics)
    log.info("WAE quality: %s", ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return metrics, model.eval(), trainer
