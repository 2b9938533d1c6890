"""The shipped pre-trained members that join a run's own fits (docs/method.md §3b).

A run's verdict from one fit is one fit's verdict: the fits disagree by more than one fit's
interval says (docs/results.md). So, wherever it is honest, the package's five pre-trained WAEs
(seeds 100–104) join the run's own fits as further ensemble members: each is perturbed and
graphed by the run's own stages (cached like any other member's), its blanket gets its own
per-seed predictors, and the verdict and the consensus are over the run's fits plus these.

They join only where they are fits of the same method on the same data: the run's corpus is
their corpus (by the SHA-256 of every sequence), its ``model.*`` and ``trainer.*`` recipe is
theirs (hardware and display settings aside), and no OOD sequence of the run is in their corpus.
Otherwise the run says why none joined. ``ensemble.shipped=false`` keeps them out.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pytorch_lightning as pl
import torch

from latentgraph.atomic import atomic_copy, atomic_target, write_json
from latentgraph.attributes.user_oracles import resolve_target
from latentgraph.config.choices import with_plain_strings
from latentgraph.config.schema import Config
from latentgraph.data import PreparedData
from latentgraph.errors import ConfigValueError
from latentgraph.models import pretrained
from latentgraph.models.pretrained import ShippedMember
from latentgraph.models.wae import SequenceWAE
from latentgraph.perturbation import Autoencoder, AutoencoderCheckError, check_autoencoder
from latentgraph.pipeline.autoencoder import AutoencoderResult, alphabet_differences, read_wae_checkpoint
from latentgraph.run_layout import RunLayout
from latentgraph.runtime.cache.keys import (
    COMPUTE_ONLY_MODEL_KEYS,
    PRESENTATION_KEYS,
    SOURCE_MODEL_KEYS,
    VALIDATION_KEYS,
    corpus_settings,
)
from latentgraph.runtime.cache.store import stage_key
from latentgraph.runtime.lineage import declare
from latentgraph.runtime.tracking import RunLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JoiningMembers:
    """The shipped members that join this run (seed order), or why none do."""

    members: list[ShippedMember]
    reason: str | None = None  # why none join (None when some do)

    @property
    def seeds(self) -> list[int]:
        return [member.seed for member in self.members]


# settings that change how a fit is computed, checked or shown, not the fitted model's recipe: the
# stage cache's compute-only and presentation keys, and the hardware's
NOT_RECIPE = {
    "model": {*COMPUTE_ONLY_MODEL_KEYS, "prior_samples"},
    "trainer": {
        *PRESENTATION_KEYS,
        *VALIDATION_KEYS,
        "_target_",
        "accelerator",
        "devices",
        "strategy",
        "num_nodes",
        "use_distributed_sampler",
        "deterministic",
        "num_sanity_val_steps",
    },
}


def recipe(settings: Config) -> dict:
    """What a member records of the settings it was fitted with, and a run is compared on."""
    return {
        "alphabet": str(settings.data.alphabet),
        "max_len": settings.data.max_len,
        "data": with_plain_strings(corpus_settings(settings)),
        "model": {k: v for k, v in with_plain_strings(asdict(settings.model)).items() if k not in SOURCE_MODEL_KEYS},
        "trainer": with_plain_strings(asdict(settings.trainer)),
    }


@dataclass(frozen=True)
class CheckpointFile:
    """``model=pretrained model.checkpoint=PATH``: a latentgraph WAE checkpoint loaded as the run's autoencoder."""

    path: Path
    sha256: str
    model: SequenceWAE


def run_autoencoders(
    settings: Config, data: PreparedData
) -> tuple[Config, ShippedMember | CheckpointFile | CustomModel | None, JoiningMembers]:
    """Where the run's autoencoders come from, settled before any fit: the run's settings (with the
    first member's seed under ``model=pretrained``), the shipped member that is the run's own
    autoencoder (``None``: it is fitted), and the shipped members that join it.

    Every shipped file is checked against its recorded SHA-256 first: a damaged install stops the
    run (:class:`~latentgraph.models.pretrained.BrokenInstall`, exit status 1), naming the file.
    An ensemble member job (``ensemble.jobs``) takes no members: the sweep's combining run does.
    With ``model.checkpoint`` the run's autoencoder is that file, checked before any work, and no
    shipped member joins it (they are fits of another model).
    """
    if settings.model.checkpoint is not None:
        return settings, load_checkpoint(settings), JoiningMembers([], "model.checkpoint: the run's one autoencoder")
    if settings.model.source == "custom":
        return settings, build_custom_model(settings), JoiningMembers([], "model=custom: the run's one autoencoder")
    if settings.model.source == "shipped":
        return pretrained_run(settings, data)
    if settings.ensemble.jobs:
        return settings, None, JoiningMembers([], "an ensemble member job: the combining run takes them")
    return settings, None, joining_members(settings, data)


def joining_members(settings: Config, data: PreparedData) -> JoiningMembers:
    """The shipped members (``ensemble.shipped_dir``, or the package's) that serve this run and are
    not among its own seeds."""
    if not settings.ensemble.shipped:
        return JoiningMembers([], "ensemble.shipped=false")
    members, _, reason = _serving(settings, data)
    if reason is not None:
        log.info(
            "shipped members (peptide WAEs, seeds 100-104): none joins this run: %s; ensemble.size=R fits R of "
            "its own instead",
            reason,
        )
        return JoiningMembers([], reason)
    return _not_own(settings, members)


def _not_own(settings: Config, members: list[ShippedMember]) -> JoiningMembers:
    """The ``members`` whose seeds are not among the run's own fits (those stand), logged."""
    own = set(range(settings.seed, settings.seed + settings.ensemble.size))
    joining = [member for member in members if member.seed not in own]
    if not joining:
        return JoiningMembers([], "the run's own fits already hold every shipped member's seed")
    log.info(
        "shipped members: seeds %s join the run's own fit%s (same corpus, same recipe, no OOD sequence seen); "
        "ensemble.shipped=false keeps them out",
        ", ".join(str(member.seed) for member in joining),
        "s" if settings.ensemble.size > 1 else "",
    )
    return JoiningMembers(joining)


def _serving(settings: Config, data: PreparedData) -> tuple[list[ShippedMember], list[tuple], str | None]:
    """The shipped members (every file checked against its hash), how the run's recipe differs
    from theirs, and why they may not serve this run (``None``: they may)."""
    folder = Path(settings.ensemble.shipped_dir) if settings.ensemble.shipped_dir else pretrained.MEMBERS_DIR
    members = pretrained.verify(folder)
    differences = pretrained.recipe_differences(pretrained.manifest(folder)["settings"], recipe(settings), NOT_RECIPE)
    reason = pretrained.why_not_served(
        {name: frame["sequence"].tolist() for name, frame in data.ood.items()},
        str(settings.data.alphabet),
        settings.data.max_len,
        folder,
        corpus=[*data.corpus_train, *data.corpus_val],
        differences=differences,
    )
    return members, differences, reason


def pretrained_run(settings: Config, data: PreparedData) -> tuple[Config, ShippedMember, JoiningMembers]:
    """``model=pretrained``: the run's settings with the seed of the first shipped member, which is
    the run's own autoencoder, and the others that join it. The members must serve the run: a
    setting that changes the recipe is refused naming its key, any other reason naming ``model``."""
    members, differences, reason = _serving(settings, data)
    if differences:
        key, shipped, run = differences[0]
        raise ConfigValueError(
            key, run, f"model=pretrained loads the shipped members as they were fitted, with {key}={shipped!r}"
        )
    if reason is not None:
        raise ConfigValueError("model", "pretrained", f"the shipped members cannot serve this run: {reason}")
    first = members[0]
    log.info(
        "model=pretrained: nothing is fitted; the run's own autoencoder is the shipped member %s (seed %d), "
        "and the run takes its seed",
        first.path.name,
        first.seed,
    )
    settings = replace(settings, seed=first.seed)
    if not settings.ensemble.shipped:
        return settings, first, JoiningMembers([], "ensemble.shipped=false")
    return settings, first, _not_own(settings, members)


def load_checkpoint(settings: Config) -> CheckpointFile:
    """``model.checkpoint``, read and checked against the run's data before any work: a missing,
    foreign or corrupt file, or one whose alphabet or maximum length does not fit the data, is a
    :class:`ConfigValueError` naming ``model.checkpoint`` and the cause. Nothing pickled runs."""
    key, path = "model.checkpoint", Path(str(settings.model.checkpoint)).expanduser()
    if settings.ensemble.size > 1:
        raise ConfigValueError(
            "ensemble.size", settings.ensemble.size, "model.checkpoint loads one autoencoder; fit R with model=wae"
        )
    if not path.is_file():
        raise ConfigValueError(key, str(path), "no such checkpoint file")
    checkpoint = read_wae_checkpoint(key, path)
    saved, state = dict(checkpoint["hyper_parameters"]), checkpoint["state_dict"]
    different = alphabet_differences(checkpoint, str(settings.data.alphabet))
    if different:
        raise ConfigValueError(key, str(path), "was trained on another alphabet: " + "; ".join(different))
    if int(saved.get("max_len", 0)) < settings.data.max_len:
        raise ConfigValueError(
            key,
            str(path),
            f"was trained with max_len={saved.get('max_len')}: data.max_len={settings.data.max_len} sequences "
            "do not fit; set data.max_len to at most that",
        )
    try:
        model = SequenceWAE(**saved)
        model.load_state_dict(state)
    except Exception as error:  # noqa: BLE001 - settings or weights this code's WAE does not take
        raise ConfigValueError(key, str(path), f"does not load as this latentgraph's WAE ({error})") from None
    digest = pretrained.sha256_of(path)
    log.info("model=pretrained: nothing is fitted; the run's autoencoder is loaded from %s (SHA-256 %s)", path, digest)
    return CheckpointFile(path.resolve(), digest, model.eval())


@dataclass
class CustomModel:
    """``model=custom``: the user's autoencoder, built from ``model._target_`` and ``model.args``."""

    target: str
    args: dict
    model: Autoencoder
    key: str  # its stage-cache key: its target and arguments, or one of its own for a Python object


def build_custom_model(settings: Config) -> CustomModel:
    """The user's autoencoder, built and checked before any work (:func:`check_autoencoder`): a
    target that cannot be imported, arguments it refuses, or an object that lacks a protocol member
    or gets one wrong is a :class:`ConfigValueError` naming ``model._target_`` and the cause."""
    target, args = str(settings.model._target_), dict(settings.model.args)
    factory = resolve_target("model._target_", target)
    try:
        model = factory(**args)
    except Exception as error:  # noqa: BLE001 - the user's constructor refused its arguments
        raise ConfigValueError("model.args", args, f"{target} refused them ({type(error).__name__}: {error})") from None
    key = f"custom-{stage_key({'target': target, 'args': args})}"
    custom = checked_custom_model(model, key, settings, target, args)
    log.info("model=custom: nothing is fitted; the run's autoencoder is %s(%s), latent_dim %d", target, args,
             model.latent_dim)  # fmt: skip
    return custom


def checked_custom_model(
    model: Autoencoder, key: str, settings: Config, target: str | None = None, args: dict | None = None
) -> CustomModel:
    """``model`` as the run's one autoencoder under cache key ``key``, once
    :func:`check_autoencoder` passes; else a :class:`ConfigValueError` naming ``model._target_``."""
    target = target or f"{type(model).__module__}.{type(model).__qualname__}"
    if settings.ensemble.size > 1:
        raise ConfigValueError("ensemble.size", settings.ensemble.size, "your own autoencoder is one model, not fitted")
    try:
        check_autoencoder(model)
    except AutoencoderCheckError as error:
        raise ConfigValueError("model._target_", target, f"is not an Autoencoder: {error}") from None
    return CustomModel(target, args or {}, model, key)


def custom_autoencoder(source: CustomModel, run_dir: Path) -> AutoencoderResult:
    """The autoencoder stage for ``model=custom``: the user's model as it is (nothing fitted, no
    checkpoint), its target and arguments in the run's provenance. Its key names them, so its
    perturbation, graph and predictors are cached apart from any WAE's."""
    run = RunLayout(run_dir)
    log.info("stage wae: your model %s, not fitted", source.target)
    write_json(run.metrics.wae, {})
    provenance = {"custom": source.target, "args": source.args, "reused": True, "stale": None}
    write_json(run.metrics.wae_provenance, provenance)
    return AutoencoderResult(source.model, {}, source.key)


def checkpoint_autoencoder(source: CheckpointFile, run_dir: Path, run_log: RunLog) -> AutoencoderResult:
    """The autoencoder stage for ``model.checkpoint``: the loaded model (nothing fitted), the file
    copied into the run as ``checkpoints/last.ckpt``, its path and SHA-256 in the run's provenance.
    Its key names the file's content, so its perturbation, graph and predictors are cached apart."""
    run = RunLayout(run_dir)
    key = f"checkpoint-{source.sha256[:16]}"
    log.info("stage wae: loaded from %s, not fitted", source.path)
    run.checkpoints.path.mkdir(parents=True, exist_ok=True)
    atomic_copy(source.path, run.checkpoints.last)
    write_json(run.metrics.wae, {})
    provenance = {"checkpoint": str(source.path), "sha256": source.sha256, "reused": True, "stale": None}
    write_json(run.metrics.wae_provenance, provenance)
    declare(run.checkpoints.path, f"wae-{key}", "model", files=[run.checkpoints.last.name])
    return AutoencoderResult(source.model, {}, key)


def pretrained_autoencoder(
    source: ShippedMember | CheckpointFile | CustomModel, run_dir: Path, run_log: RunLog
) -> AutoencoderResult:
    """The autoencoder stage of a model that is not fitted here: a shipped member, a loaded
    checkpoint or the user's own model."""
    if isinstance(source, CustomModel):
        return custom_autoencoder(source, run_dir)
    if isinstance(source, CheckpointFile):
        return checkpoint_autoencoder(source, run_dir, run_log)
    return shipped_autoencoder(source, run_dir, run_log)


def shipped_autoencoder(member: ShippedMember, run_dir: Path, run_log: RunLog) -> AutoencoderResult:
    """The autoencoder stage for a shipped member: its weights loaded (nothing fitted), written into
    the member's folder as ``checkpoints/last.ckpt`` (float32, loadable like any run's), with its
    recorded fit quality and provenance. Its key names the shipped file, so its perturbation and
    graph are cached apart from a local fit of the same seed (float16 weights are another model)."""
    run = RunLayout(run_dir)
    key = f"shipped-{member.sha256[:16]}"
    log.info("stage wae: the shipped member %s (seed %d), not fitted", member.path.name, member.seed)
    model = pretrained.load_member(member)
    run.checkpoints.path.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "hyper_parameters": dict(model.hparams),
        "state_dict": model.state_dict(),
        "pytorch-lightning_version": pl.__version__,
    }
    with atomic_target(run.checkpoints.last) as tmp:
        torch.save(checkpoint, tmp)
    metrics = {k: float(v) for k, v in member.provenance["fit"].items()}
    write_json(run.metrics.wae, metrics)
    write_json(
        run.metrics.wae_provenance,
        {
            **member.provenance["fit_provenance"],
            "shipped": member.path.name,
            "sha256": member.sha256,
            "held_out": member.provenance["held_out"],
            "reused": True,
            "stale": None,
        },
    )
    run_log.metrics({f"wae/{k}": v for k, v in metrics.items()})
    declare(run.checkpoints.path, f"wae-{key}", "model", files=[run.checkpoints.last.name])
    return AutoencoderResult(model, metrics, key)
