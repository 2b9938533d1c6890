"""The stage cache: a content-addressed store of stage artifacts shared by the runs of a sweep, and
the keys under which each stage stores its result.

**The store.** Each entry lives in ``<cache_dir>/stages/<stage>/<key>/``, where ``key`` hashes the
config subtree the stage depends on. An entry is written into a temporary directory beside it, gets a
``COMPLETE`` marker last, and is renamed into place in one step. A reader trusts only entries
with the marker, so a killed writer leaves nothing that a later run would use.

Jobs that need the same key compute it once: :meth:`StageCache.claim` holds a lock per key
(``<stage>/<key>.lock``, an OS file lock that dies with its holder, so a killed job blocks no
one), and a job that finds the key being computed says which host and process hold it, waits up
to the cache's lock timeout and then reuses the entry. Should two writers still meet (a cache on
a file system without locks), the second rename finds the entry there and its own copy is
dropped. Temporaries a killed writer left behind (``.<name>.<random>.tmp``) are removed once
they are a day old (:func:`remove_stale_temporaries`, called when a run opens the cache).

**The keys.** Each hashes exactly the settings its stage's result depends on. A sweep over
``graph.*``, ``predictor.*`` or presentation settings therefore reuses the fitted WAE and the raw
perturbation effects, and any change upstream recomputes them. The store knows nothing of these
settings.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from latentgraph import __version__
from latentgraph.atomic import atomic_write_text, current_umask, full_disk_named, plain_directory_mode
from latentgraph.attributes.training import TrainedClassifier
from latentgraph.config.schema import Config
from latentgraph.models.pretrained import sha256_of

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"
STALE_TEMPORARY_AGE_S = 86_400.0  # a writer's temporary this old belongs to a job that died


class LockTimeoutError(RuntimeError):
    """A job waited longer than the lock timeout for another job to finish computing a key."""


def _holder_record(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder.json")


def _holder(lock_path: Path) -> str:
    """Who holds ``lock_path``, as its holder recorded it ("unknown": it has not written it yet)."""
    try:
        held = json.loads(_holder_record(lock_path).read_text())
        return f"host {held['host']}, pid {held['pid']}, since {held['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown job (it has not recorded itself yet)"


@contextmanager
def held_lock(lock_path: str | Path, what: str, timeout_s: float | None) -> Iterator[None]:
    """Hold the OS file lock ``lock_path`` (it dies with its holder), waiting at most ``timeout_s``.

    The holder records its host and pid beside the lock; a job that has to wait logs them once,
    and raises :class:`LockTimeoutError` naming them, the lock and the setting if the wait expires.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # the mode a plain open() gives, so a group sharing the cache (umask 002) can take the lock too;
    # filelock before 4.0 makes every lock file 0644 unless told
    lock = FileLock(lock_path, mode=0o666 & ~current_umask())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(lock_path)
        limit = "without a limit" if timeout_s is None else f"up to {timeout_s:g} s"
        log.info("%s: another job (%s) is computing it; waiting %s (lock %s)", what, holder, limit, lock_path)
        try:
            lock.acquire(timeout=-1 if timeout_s is None else timeout_s)
        except Timeout:
            raise LockTimeoutError(
                f"{what}: waited {timeout_s:g} s for the job computing it ({_holder(lock_path)}; lock {lock_path}); "
                "if that job is alive and slow, raise paths.lock_timeout_s; if it is gone, its lock was on a "
                "file system that keeps locks after their holder: delete the lock file"
            ) from None
    try:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        atomic_write_text(_holder_record(lock_path), json.dumps(holder))
        yield
    finally:
        _holder_record(lock_path).unlink(missing_ok=True)
        lock.release()


def remove_stale_temporaries(root: str | Path, max_age_s: float = STALE_TEMPORARY_AGE_S) -> list[Path]:
    """Remove the writers' temporaries (``.<name>.<random>.tmp``, files or folders) under ``root``
    last touched more than ``max_age_s`` ago: a killed writer's leftovers. Returns what was removed."""
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = time.time() - max_age_s
    removed = []
    for path in sorted(root.rglob(".*.tmp")):
        try:
            if path.lstat().st_mtime >= cutoff:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # another job cleaned it first
            continue
        removed.append(path)
    return removed


def stage_key(payload: Any) -> str:
    """Short stable hash of a JSON-serialisable payload (dict order does not matter)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StageCache:
    """Completed stage artifacts under ``root`` (``paths.cache_dir/stages``).

    ``lock_timeout_s``: how long :meth:`claim` waits for another job computing the same key
    (``None``: without a limit).
    """

    def __init__(self, root: str | Path, lock_timeout_s: float | None = None):
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def lookup(self, stage: str, key: str) -> Path | None:
        """The entry's directory if it is complete, else ``None``."""
        path = self.entry(stage, key)
        return path if (path / COMPLETE).is_file() else None

    # ------------------------------------------------------------------ unfinished fits
    def _unfinished_record(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.unfinished.json"

    def mark_unfinished(self, stage: str, key: str, checkpoint: str | Path) -> None:
        """Record that a fit of ``key`` is writing its resumable checkpoint to ``checkpoint``.

        Every attempt is kept (a resumed fit killed before its first save must not hide the
        checkpoint it resumed from); :meth:`unfinished_checkpoints` lists those still on disk.
        """
        checkpoint = Path(checkpoint).resolve()
        paths = [p for p in self._recorded_attempts(stage, key) if p != checkpoint] + [checkpoint]
        atomic_write_text(self._unfinished_record(stage, key), json.dumps([str(p) for p in paths], indent=1))

    def _recorded_attempts(self, stage: str, key: str) -> list[Path]:
        try:
            return [Path(p) for p in json.loads(self._unfinished_record(stage, key).read_text())]
        except (OSError, ValueError):
            return []

    def unfinished_checkpoints(self, stage: str, key: str) -> list[Path]:
        """Checkpoint files of earlier unfinished fits of ``key`` that still exist, oldest attempt first."""
        return [p for p in self._recorded_attempts(stage, key) if p.is_file()]

    def clear_unfinished(self, stage: str, key: str) -> None:
        """The fit of ``key`` finished: nothing is left to resume."""
        self._unfinished_record(stage, key).unlink(missing_ok=True)

    @contextmanager
    def claim(self, stage: str, key: str) -> Iterator[Path | None]:
        """Hold ``key``'s lock; yield its complete entry, or ``None`` for the holder to compute and :meth:`store`.

        A job that finds the lock held waits (saying once for whom) until the holder finishes or
        dies; it then gets the entry the holder stored, or, if the holder died first, computes it
        itself. A wait longer than ``lock_timeout_s`` raises :class:`LockTimeoutError`.
        """
        with held_lock(self.root / stage / f"{key}.lock", f"stage {stage}, key {key}", self.lock_timeout_s):
            yield self.lookup(stage, key)

    @contextmanager
    def store(self, stage: str, key: str) -> Iterator[Path]:
        """Yield a temporary directory to fill; on success it becomes the entry (atomically)."""
        final = self.entry(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
        plain_directory_mode(tmp)
        try:
            with full_disk_named(final):
                yield tmp
                (tmp / COMPLETE).write_text(json.dumps({"stage": stage, "key": key, "pid": os.getpid()}))
            try:
                os.rename(tmp, final)
            except OSError:  # another job stored the same key first: keep theirs
                if self.lookup(stage, key) is None:
                    raise
                log.info("stage %s: key %s was stored by another job meanwhile; keeping that copy", stage, key)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


# trainer settings that change what is shown, not what is learned
PRESENTATION_KEYS = ("enable_progress_bar", "enable_model_summary", "log_every_n_steps")
# trainer settings of the validation loop, with the value every key before 2026-11-30 held: they
# change which curves are drawn, and change the fit only when early stopping reads them
VALIDATION_KEYS = {"check_val_every_n_epoch": 1, "limit_val_batches": 1.0}
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


def stale_fit_warning(recorded: dict | None) -> str | None:
    """Why a cached fit may not be the one this code would make (``None``: no reason to think so).

    ``recorded`` is the entry's :func:`fit_provenance`, or ``None`` for entries stored before it
    was kept. A different torch changes float kernels as a different revision does.
    """
    if recorded is None:
        return (
            "it was stored before fits recorded their code revision, possibly by older training code "
            f"(this code: revision {WAE_FIT_REVISION})"
        )
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
    file (a saved model changed in place is another oracle); no oracles add nothing, so keys from
    before the setting existed still hold."""
    hashed = {k: v for k, v in asdict(settings.attributes).items() if k not in ("classifiers", "classifier")}
    if not hashed["oracles"]:
        del hashed["oracles"]
    for spec in hashed.get("oracles", {}).values():
        files = {k: v for k, v in spec["args"].items() if isinstance(v, str) and Path(v).is_file()}
        spec["file_sha256"] = {k: sha256_of(v) for k, v in files.items()}
    return hashed


def _classifier_keys(classifiers: dict[str, TrainedClassifier]) -> dict[str, str]:
    return {name: trained.key for name, trained in classifiers.items()}


def data_settings(settings: Config) -> dict:
    """``data.*`` as hashed: the peptide alphabet (the only one before molecules) and
    ``stereo=keep`` (the only behaviour before the setting) add nothing, so keys from before
    those settings existed still hold. ``identity`` changes what is reported, not the data."""
    data = asdict(settings.data)
    if data["alphabet"] == "peptides":
        del data["alphabet"]
    if data["stereo"] == "keep":
        del data["stereo"]
    del data["identity"]
    if data["max_identity"] is None:
        del data["max_identity"]
    return data


def corpus_settings(settings: Config) -> dict:
    """``data.*`` as the autoencoder's fit depends on it: ``max_identity`` only removes OOD
    sequences, which the corpus never holds, so fits with and without it are the same fit."""
    data = data_settings(settings)
    data.pop("max_identity", None)
    return data


def wae_key(settings: Config) -> str:
    """Hash of what the fitted WAE depends on: data, model, training settings, seed."""
    trainer = {k: v for k, v in asdict(settings.trainer).items() if k not in PRESENTATION_KEYS}
    if not settings.callbacks.early_stopping.enabled:
        trainer.update(VALIDATION_KEYS)  # the fitted weights are the last step's, whatever was validated
    model = {k: v for k, v in asdict(settings.model).items() if k not in (*DECODE_ONLY_MODEL_KEYS, *SOURCE_MODEL_KEYS)}
    if model["recurrence"] == "nn":  # the fit before the setting existed: its keys still hold
        del model["recurrence"]
    return stage_key(
        {
            "data": corpus_settings(settings),
            "model": model,
            "trainer": trainer,
            "early_stopping": asdict(settings.callbacks.early_stopping),
            "seed": settings.seed,
            # a user's callback can change the weights (weight averaging); none adds nothing, so keys still hold
            **({"callbacks": settings.callbacks.extra} if settings.callbacks.extra else {}),
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
            "attributes": _attribute_set_settings(settings),
            "classifiers": _classifier_keys(classifiers),
            "perturbation": asdict(settings.perturbation),
            "seed": settings.seed,
            "bad_records": str(settings.data.bad_records),
            "format": PERTURBATION_FORMAT,
            **_control(settings),
        }
    )


def _control(settings: Config) -> dict:
    """The positive control's settings when it is on (its planted oracle is an attribute, its labels
    the target's); nothing when it is off, so the keys of ordinary runs stay as they were."""
    return {"control": asdict(settings.control)} if settings.control.enabled else {}


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
        **({"data": data_settings(settings)} if settings.data.max_identity is not None else {}),
        "seed": settings.seed,
        # 2: selectors choose on each regime's own rows, crossed-bootstrap intervals, fixed comparisons;
        # 3: failed selections counted and left out, per-seed rows against every baseline (few-fit interval)
        "protocol": 3,
        **_control(settings),
    }
    if consensus_blanket is not None:  # absent for one autoencoder: those keys stay as they were
        parts["consensus_blanket"] = consensus_blanket
    if member_blankets is not None:
        parts["member_blankets"] = {str(seed): features for seed, features in sorted(member_blankets.items())}
    return stage_key(parts)
