"""The perturbation stage: the effects of every latent step on every attribute, from the fit's
callback, from the stage cache, or computed here on a reused autoencoder."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from latentgraph.config.schema import Config, PerturbationConfig
from latentgraph.data import PreparedData
from latentgraph.perturbation import Autoencoder, PerturbationResult, run_perturbation
from latentgraph.pipeline.oracles import OracleStageResult
from latentgraph.progress import show_bars
from latentgraph.run_layout import RunLayout
from latentgraph.runtime.cache.keys import perturbation_key, stage_cache
from latentgraph.runtime.lineage import declare, declared

log = logging.getLogger(__name__)


def engine_settings(settings: PerturbationConfig) -> dict:
    """``run_perturbation`` keyword arguments (besides the model, attributes, sequences and seed)."""
    return {
        "n_base": settings.n_base,
        "deltas": list(settings.deltas),
        "base": settings.base,
        "latent_scale": settings.latent_scale,
        "batch_size": settings.batch_size,
        "n_permutations": settings.n_permutations,
        "n_directions": settings.n_directions,
    }


def perturbation_stage(
    settings: Config,
    autoencoder,
    computed: PerturbationResult | None,
    oracles: OracleStageResult,
    data: PreparedData,
    run_dir: Path,
    model_key: str | None = None,
) -> PerturbationResult | None:
    """The run's perturbation result, saved to ``run_dir/perturbation`` (``None`` when disabled).

    Args:
        autoencoder: the fitted or reused model (:class:`~latentgraph.perturbation.Autoencoder`).
        computed: the result the fit's callback computed, if the fit ran; it is stored in the
            cache. Otherwise the cache's result for these settings is reused, or computed now.
        model_key: the autoencoder's key, where it is not the fit of ``settings`` (a shipped member).
    """
    run = RunLayout(run_dir)
    if not settings.perturbation.enabled:
        return None
    cache = stage_cache(settings)
    key = perturbation_key(settings, oracles.classifiers, model_key)
    if computed is not None:
        log.info("stage perturbation: computed (key %s)", key)
        result = computed
        with cache.store("perturbation", key) as entry:
            result.save(entry)
    else:
        with cache.claim("perturbation", key) as reused:  # parallel jobs with this key compute it once
            if reused is not None:
                log.info("stage perturbation: reused from cache key %s", key)
                result = PerturbationResult.load(reused)
            else:
                result = perturb_reused_model(settings, autoencoder, oracles, data, key)
                with cache.store("perturbation", key) as entry:
                    result.save(entry)
    result.save(run.perturbation.path)
    declare(run.perturbation.path, f"perturbation-{key}", "perturbation", [declared(run.checkpoints.path)])
    return result


def perturb_reused_model(
    settings: Config, autoencoder: Autoencoder, oracles: OracleStageResult, data: PreparedData, key: str
) -> PerturbationResult:
    """The perturbation experiment on a WAE that came from the cache (a fit computes it in its callback)."""
    log.info("stage perturbation: computing (key %s) on the reused WAE", key)
    with torch.inference_mode():
        result = run_perturbation(
            autoencoder,
            oracles.attributes,
            sequences=list(data.corpus_val),
            seed=settings.seed,
            bars=show_bars(settings.trainer.enable_progress_bar),
            **engine_settings(settings.perturbation),
        )
    return result.cloned()
