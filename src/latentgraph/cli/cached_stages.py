"""The autoencoder, perturbation and predictor stages behind the stage cache.

Keys (:func:`wae_key`, :func:`perturbation_key`) hash exactly the settings each stage's result
depends on, so a sweep over ``graph.*``, ``predictor.*`` or presentation settings reuses the
fitted WAE and the raw perturbation effects, and any change upstream recomputes them. The log
says, per stage, whether it was computed or reused and under which key.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from latentgraph.artifacts import write_json
from latentgraph.attributes.sets import AttributeSet
from latentgraph.attributes.training import TrainedClassifier
from latentgraph.cli.graph_stage import (perturbation_callback, perturbation_settings, read_blanket_report,
                                         write_graph_outputs)
from latentgraph.cli.predictor_stage import headline_metrics, print_summary, run_predictor_stage
from latentgraph.cli.tracking import build_loggers
from latentgraph.cli.train_autoencoder import train_autoencoder
from latentgraph.data import PreparedData
from latentgraph.models.wae import SequenceWAE
from latentgraph.perturbation import PerturbationResult, run_perturbation
from latentgraph.stage_cache import StageCache, stage_key

log = logging.getLogger(__name__)

# trainer settings that change what is shown, not what is learned
PRESENTATION_KEYS = ("enable_progress_bar", "enable_model_summary", "log_every_n_steps")


def _container(node: DictConfig) -> dict:
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)


def _attribute_set_settings(cfg: DictConfig) -> dict:
    """``attributes.*`` without the classifier training settings (those enter through the classifiers' keys)."""
    return {k: v for k, v in _container(cfg.attributes).items() if k not in ("classifiers", "classifier")}


def wae_key(cfg: DictConfig) -> str:
    """Hash of what the fitted WAE depends on: data, model, training settings, seed."""
    trainer = {k: v for k, v in _container(cfg.trainer).items() if k not in PRESENTATION_KEYS}
    return stage_key({"data": _container(cfg.data), "model": _container(cfg.model), "trainer": trainer,
                      "early_stopping": _container(cfg.callbacks.early_stopping), "seed": cfg.seed})


def perturbation_key(cfg: DictConfig, wae: str, classifiers: dict[str, TrainedClassifier]) -> str:
    """Hash of what the raw perturbation effects depend on: the WAE, the attribute set, the settings."""
    return stage_key({"wae": wae, "attributes": _attribute_set_settings(cfg),
                      "classifiers": {name: trained.key for name, trained in classifiers.items()},
                      "perturbation": _container(cfg.perturbation), "seed": cfg.seed,
                      "bad_records": str(cfg.data.bad_records)})


def autoencoder_and_perturbation(cfg: DictConfig, run_dir: Path, data: PreparedData, attributes: AttributeSet,
                                 classifiers: dict[str, TrainedClassifier]) -> tuple[dict[str, float], SequenceWAE]:
    """Fit the WAE (or reuse it) and run the perturbation experiment and graph (or reuse the effects)."""
    cache = StageCache(Path(cfg.paths.cache_dir) / "stages")
    w_key = wae_key(cfg)
    p_key = perturbation_key(cfg, w_key, classifiers)
    explicit = cfg.ckpt_path if cfg.ckpt_path not in (None, "last") else None
    hit = cache.lookup("wae", w_key) if explicit is None else None
    if hit is None:
        log.info("stage wae: computing (key %s)", w_key)
        resuming = cfg.resume or cfg.ckpt_path == "last"
        resume_from = explicit or (checkpoint_to_resume(cache, w_key) if resuming else None)
        cache.mark_unfinished("wae", w_key, run_dir / "checkpoints" / "last.ckpt")
        callback = perturbation_callback(cfg, attributes, data, run_dir)
        metrics, model, trainer = train_autoencoder(cfg, run_dir, data, extra_callbacks=[callback] if callback else [],
                                                    ckpt_path=resume_from)
        if trainer.global_rank > 0:  # a DDP worker: rank zero stores the results
            # save_checkpoint is collective: join rank zero's save below (a worker writes nothing)
            trainer.save_checkpoint(run_dir / "unused.ckpt", weights_only=True)
            return metrics, model
        with cache.store("wae", w_key) as entry:
            trainer.save_checkpoint(entry / "model.ckpt", weights_only=True)
            write_json(entry / "wae.json", metrics)
        cache.clear_unfinished("wae", w_key)
        if callback is not None and callback.result is not None:
            log.info("stage perturbation: computed (key %s)", p_key)
            with cache.store("perturbation", p_key) as entry:
                callback.result.save(entry)
        return metrics, model

    log.info("stage wae: reused from cache key %s (%s)", w_key, hit)
    model = SequenceWAE.load_from_checkpoint(hit / "model.ckpt", map_location="cpu", weights_only=True).eval()
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(hit / "model.ckpt", run_dir / "checkpoints" / "last.ckpt")
    metrics = json.loads((hit / "wae.json").read_text())
    write_json(run_dir / "metrics" / "wae.json", metrics)
    loggers = build_loggers(cfg, run_dir)
    for logger in loggers:
        logger.log_metrics({f"wae/{k}": v for k, v in metrics.items()}, step=0)
    if cfg.perturbation.enabled:
        reused = cache.lookup("perturbation", p_key)
        if reused is not None:
            log.info("stage perturbation: reused from cache key %s", p_key)
            result = PerturbationResult.load(reused)
        else:
            log.info("stage perturbation: computing (key %s) on the reused WAE", p_key)
            with torch.inference_mode():
                result = run_perturbation(model, attributes, sequences=list(data.corpus_val), seed=cfg.seed,
                                          progress=bool(cfg.trainer.enable_progress_bar), **perturbation_settings(cfg))
            result = result.cloned()
            with cache.store("perturbation", p_key) as entry:
                result.save(entry)
        result.save(run_dir / "perturbation")
        set_summary = json.loads((run_dir / "attributes" / "set.json").read_text())
        write_graph_outputs(result, cfg.graph, set_summary, run_dir / "graph", loggers)
    for logger in loggers:
        logger.save()
    return metrics, model


def checkpoint_to_resume(cache: StageCache, key: str) -> str | None:
    """The most advanced readable ``last.ckpt`` of an interrupted fit with WAE key ``key``, if any.

    A rerun of a killed command has a new run directory (Hydra's timestamp), so ``resume=true``
    finds the interrupted fit by its settings, not by its directory.
    """
    best: tuple[int, Path] | None = None
    for path in cache.unfinished_checkpoints("wae", key):
        try:
            step = int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
        except Exception as error:  # an unreadable file is skipped, with a word why
            log.warning("resume: skipping unreadable checkpoint %s (%s)", path, error)
            continue
        if best is None or step > best[0]:
            best = (step, path)
    if best is None:
        log.warning("resume: no interrupted fit with these settings (WAE key %s) left a checkpoint; "
                    "training from the start", key)
        return None
    log.info("resume: continuing the interrupted fit from %s (step %d)", best[1], best[0])
    return str(best[1])


RESULT_FILES = ("metrics.csv", "metrics.json", "summary.csv", "ood_drop.csv", "features.json", "limited_curve.png")


def predictor_key(cfg: DictConfig, classifiers: dict[str, TrainedClassifier]) -> str:
    """Hash of what the predictor results depend on: the data, the attribute set, the WAE (its prior
    decodes), the blanket this run's graph gave, the predictor settings and the seed."""
    report = read_blanket_report(Path(cfg.paths.run_dir))
    return stage_key({"wae": wae_key(cfg), "classifiers": {name: t.key for name, t in classifiers.items()},
                      "attributes": _attribute_set_settings(cfg),
                      "blanket": report["features"] if report else None, "predictor": _container(cfg.predictor), "seed": cfg.seed})


def predictors(cfg: DictConfig, run_dir: Path, data: PreparedData, attributes: AttributeSet,
               autoencoder: SequenceWAE, classifiers: dict[str, TrainedClassifier]) -> dict[str, float]:
    """The predictor stage, or its results reused when nothing it depends on changed."""
    cache = StageCache(Path(cfg.paths.cache_dir) / "stages")
    key = predictor_key(cfg, classifiers)
    hit = cache.lookup("predictors", key)
    if hit is not None:
        log.info("stage predictors: reused from cache key %s (same data, attributes, WAE, blanket and settings)", key)
        (run_dir / "results").mkdir(parents=True, exist_ok=True)
        for name in RESULT_FILES:
            if (hit / name).is_file():
                shutil.copyfile(hit / name, run_dir / "results" / name)
        drops, summary = (pd.read_csv(run_dir / "results" / name) for name in ("ood_drop.csv", "summary.csv"))
        print_summary(drops, summary)
        return headline_metrics(drops)
    log.info("stage predictors: computing (key %s)", key)
    metrics = run_predictor_stage(cfg, data, attributes, autoencoder, run_dir)
    with cache.store("predictors", key) as entry:
        for name in RESULT_FILES:
            if (run_dir / "results" / name).is_file():
                shutil.copyfile(run_dir / "results" / name, entry / name)
    return metrics
