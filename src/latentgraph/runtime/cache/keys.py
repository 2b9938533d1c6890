"""The stage cache's keys (the store is :mod:`.store`).

Each hashes exactly the settings its stage's result depends on. A sweep over
``graph.*``, ``predictor.*`` or presentation settings therefore reuses the fitted WAE and the raw
perturbation effects, and any change upstream recomputes them. The store knows nothing of these
settings.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from latentgraph import __version__
from latentgraph.attributes.training import ClassifierRecipe, TrainedClassifier
from latentgraph.config.schema import Config
from latentgraph.models.pretrained import sha256_of
from latentgraph.runtime.cache.store import StageCache, remove_stale_temporaries, stage_key

log = logging.getLogger(__name__)

# trainer settings that change what is shown, not what is learned
PRESENTATION_KEYS = ("enable_progress_bar", "enable_model_summary", "log_every_n_steps")
# trainer settings of the validation loop: they change which curves are drawn, and change the fit
# only when early stopping reads them
VALIDATION_KEYS = ("check_val_every_n_epoch", "limit_val_batches")
# model settings that change how decodes are computed (equal to float tolerance), not what is learned
DECODE_ONLY_MODEL_KEYS = ("folded_decode",)
# model settings that change how a fit is computed (the same function to float tolerance), not
# the model: a checkpoint fitted one way resumes or loads the other way
COMPUTE_ONLY_MODEL_KEYS = (*DECODE_ONLY_MODEL_KEYS, "recurrence")
# model settings that say where the run's autoencoder comes from, not what it is
SOURCE_MODEL_KEYS = ("source", "checkpoint", "_target_", "args")


# The revision of the WAE training code's numerics. Bump it with any change that makes the same
# settings fit another model (float order: a fused optimiser, another recurrence kernel). The
# cache key holds settings, not code, so a fit stored under another revision is still reused;
# the run says so (docs/reliability.md).
WAE_FIT_REVISION = 1


def fit_provenance() -> dict:
    """What made a fit, stored beside it in the cache: the numerics revision and the versions."""
    return {
        "fit_revision": WAE_FIT_REVISION,
        "latentgraph": __version__,
        "torch": torch.__version__,
        "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def stale_fit_warning(recorded: dict) -> str | None:
    """Why a cached fit may not be the one this code would make (``None``: no reason to think so).

    ``recorded`` is the entry's :func:`fit_provenance`. A different torch changes float kernels as
    a different revision does.
    """
    reasons = []
    if recorded.get("fit_revision") != WAE_FIT_REVISION:
        reasons.append(f"training-code revision {recorded.get('fit_revision')} (this code: {WAE_FIT_REVISION})")
    if recorded.get("torch") != torch.__version__:
        reasons.append(f"torch {recorded.get('torch')} (this one: {torch.__version__})")
    return f"it was fitted with {' and '.join(reasons)}" if reasons else None


def stage_cache(settings: Config) -> StageCache:
    """The run's stage cache, its killed writers' day-old temporaries removed the first time a process opens it."""
    open_cache(settings.paths.cache_dir)
    return StageCache(Path(settings.paths.cache_dir) / "stages", lock_timeout_s=settings.paths.lock_timeout_s)


@functools.cache
def open_cache(cache_dir: str) -> None:
    """Remove the day-old temporaries under ``cache_dir`` (stages and classifiers), once per process."""
    removed = remove_stale_temporaries(cache_dir)
    if removed:
        log.info("cache %s: removed %d temporaries left by killed writers: %s", cache_dir, len(removed), removed)


def _attribute_set_settings(settings: Config) -> dict:
    """``attributes.*`` without the classifier training settings (those enter through the classifiers' keys).

    A user oracle enters by its target, arguments and the SHA-256 of every argument that names a
    file (a saved model changed in place is another oracle)."""
    hashed = {k: v for k, v in asdict(settings.attributes).items() if k not in ("classifiers", "classifier")}
    for spec in hashed["oracles"].values():
        files = {k: v for k, v in spec["args"].items() if isinstance(v, str) and Path(v).is_file()}
        spec["file_sha256"] = {k: sha256_of(v) for k, v in files.items()}
    return hashed


def classifier_key(recipe: ClassifierRecipe) -> str:
    """Hash of what a trained classifier's weights depend on (its rows aside, which ``recipe.data`` draws)."""
    return stage_key(asdict(recipe))


def _classifier_keys(classifiers: dict[str, TrainedClassifier]) -> dict[str, str]:
    return {name: trained.key for name, trained in classifiers.items()}


def data_settings(settings: Config) -> dict:
    """``data.*`` as hashed: ``identity`` changes what is reported, not the data."""
    data = asdict(settings.data)
    del data["identity"]
    return data


def corpus_settings(settings: Config) -> dict:
    """``data.*`` as the autoencoder's fit depends on it: ``max_identity`` only removes OOD
    sequences, which the corpus never holds, so fits with and without it are the same fit."""
    data = data_settings(settings)
    del data["max_identity"]
    return data


def wae_key(settings: Config) -> str:
    """Hash of what the fitted WAE depends on: data, model, training settings, seed."""
    trainer = {k: v for k, v in asdict(settings.trainer).items() if k not in PRESENTATION_KEYS}
    if not settings.callbacks.early_stopping.enabled:
        for name in VALIDATION_KEYS:  # the fitted weights are the last step's, whatever was validated
            del trainer[name]
    model = {k: v for k, v in asdict(settings.model).items() if k not in (*DECODE_ONLY_MODEL_KEYS, *SOURCE_MODEL_KEYS)}
    return stage_key(
        {
            "data": corpus_settings(settings),
            "model": model,
            "trainer": trainer,
            "early_stopping": asdict(settings.callbacks.early_stopping),
            "seed": settings.seed,
            "callbacks": settings.callbacks.extra,  # a user's callback can change the weights (weight averaging)
        }
    )


# The layout of a stored perturbation result (result.npz's array names). Bump it when they change, so
# an entry written the old way is not found and is computed again (2: the random-direction null's
# arrays are null_effects, null_pvalues, null_qvalues).
PERTURBATION_FORMAT = 2


def perturbation_key(settings: Config, classifiers: dict[str, TrainedClassifier], wae: str | None = None) -> str:
    """Hash of what the raw perturbation effects depend on: the WAE (``wae``: its key, where it is not
    the fit of these settings, such as a shipped member), the attribute set, the settings."""
    return stage_key(
        {
            "wae": wae or wae_key(settings),
            "data": data_settings(settings),  # the codes perturbed are the data's (a shipped member's key holds none)
            "attributes": _attribute_set_settings(settings),
            "classifiers": _classifier_keys(classifiers),
            "perturbation": asdict(settings.perturbation),
            "seed": settings.seed,
            "format": PERTURBATION_FORMAT,
            "control": _control(settings),
        }
    )


def _control(settings: Config) -> dict | None:
    """The positive control's settings when it is on (its planted oracle is an attribute, its labels
    the target's); ``None`` when it is off, whatever its other settings say."""
    return asdict(settings.control) if settings.control.enabled else None


def predictor_key(
    settings: Config,
    classifiers: dict[str, TrainedClassifier],
    blanket: list[str] | None,
    consensus_blanket: list[str] | None = None,
    member_blankets: dict[int, list[str]] | None = None,
    wae: str | None = None,
) -> str:
    """Hash of what the predictor results depend on: the data, the attribute set, the WAE (its prior
    decodes; ``wae``: its key where it is not the fit of these settings, a shipped member or a loaded
    checkpoint), the blanket this run's graph gave (and the ensemble's consensus blanket, if any),
    the predictor settings and the seed."""
    parts = {
        "wae": wae or wae_key(settings),
        "classifiers": _classifier_keys(classifiers),
        "attributes": _attribute_set_settings(settings),
        "blanket": blanket,
        # jobs changes how fast the selections run, not what they choose
        "predictor": {k: v for k, v in asdict(settings.predictor).items() if k != "jobs"},
        "data": data_settings(settings),
        "seed": settings.seed,
        # 2: selectors choose on each regime's own rows, crossed-bootstrap intervals, fixed comparisons;
        # 3: failed selections counted and left out, per-seed rows against every baseline (few-fit interval)
        "protocol": 3,
        "control": _control(settings),
        "consensus_blanket": consensus_blanket,  # None: one autoencoder
        "member_blankets": None
        if member_blankets is None
        else {str(seed): features for seed, features in sorted(member_blankets.items())},
    }
    return stage_key(parts)
