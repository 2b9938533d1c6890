"""The attribute-oracle stage: train (or reload) the classifiers, then build the run's attribute set.

Returns an :class:`OracleStageResult`: the classifiers, the attribute set, and the set's summary
(columns, oracles, the target's feature columns), which later stages take from memory; the same
summary is written to ``attributes/set.json`` for people and for ``stage=graph`` on this run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from latentgraph.atomic import write_json
from latentgraph.attributes.classifier import SequenceClassifier
from latentgraph.attributes.sets import AttributeSet, build_attribute_set
from latentgraph.attributes.training import ClassifierRecipe, TrainedClassifier, classifier_auroc, fit_classifier
from latentgraph.attributes.user_oracles import UserOracleBlock
from latentgraph.config.schema import ClassifierSpec, Config
from latentgraph.data import PreparedData, prepare_data
from latentgraph.data.alphabet import reading_alphabet
from latentgraph.data.records import DropLog, RecordFilter
from latentgraph.data.sources import parse_source_spec, read_source
from latentgraph.data.splits import deduplicate, remove_sequences
from latentgraph.errors import ConfigValueError
from latentgraph.nanstats import nanstd
from latentgraph.run_layout import RunLayout
from latentgraph.runtime.cache.keys import classifier_key
from latentgraph.runtime.cache.store import held_lock


@dataclass
class ClassifierData:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    ood: dict[str, pd.DataFrame]


@dataclass
class OracleStageResult:
    """The run's attribute oracles: trained classifiers by name, the attribute set and its summary."""

    classifiers: dict[str, TrainedClassifier]
    attributes: AttributeSet
    summary: dict
    extra: tuple = ()  # blocks the run built itself (the positive control's planted oracle)


log = logging.getLogger(__name__)


def train_or_load_classifier(
    recipe: ClassifierRecipe,
    train: pd.DataFrame,
    val: pd.DataFrame,
    cache_dir: str | Path,
    lock_timeout_s: float | None = None,
) -> TrainedClassifier:
    """Return the classifier ``recipe`` names, trained on ``train`` (label column ``recipe.name``) or reloaded.

    The cache key hashes everything the trained weights depend on (the training data's source and
    split settings, the model and training settings, the seed), so a run whose settings match
    reuses the checkpoint and any change retrains. The checkpoint is written whole or not at all,
    and parallel jobs that need the same classifier train it once (a lock per key, as the stage
    cache's).

    Args:
        lock_timeout_s: how long to wait for another job training the same classifier
            (``paths.lock_timeout_s``; ``None``: without a limit).
    """
    name, key = recipe.name, classifier_key(recipe)
    checkpoint = Path(cache_dir) / "classifiers" / f"{name}-{key}.ckpt"
    # parallel jobs that need the same classifier train it once: the others wait, then reload it
    with held_lock(checkpoint.with_suffix(".lock"), f"classifier {name!r}, key {key}", lock_timeout_s):
        if checkpoint.is_file():
            log.info("classifier %r: reused from cache key %s (%s)", name, key, checkpoint)
            model = SequenceClassifier.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True)
            return TrainedClassifier(model, checkpoint, True, key)
        log.info("classifier %r: training (cache key %s)", name, key)
        model = fit_classifier(recipe, train, val)
        model.trainer.save_checkpoint(checkpoint, weights_only=True)  # whole or not at all (AtomicCheckpointIO)
    return TrainedClassifier(model, checkpoint, False, key)


def oracle_stage(
    settings: Config, data: PreparedData, run_dir: Path, extra: tuple = (), given: AttributeSet | None = None
) -> OracleStageResult:
    """Train or reload every configured classifier, then build the attribute set around them (and
    around ``extra`` blocks, such as the positive control's planted oracle); or, with ``given``,
    take that attribute set as it is (:func:`latentgraph.pipeline.run.run_pipeline`)."""
    classifiers = train_attribute_classifiers(settings, data, run_dir) if given is None else {}
    attributes, summary = build_run_attribute_set(settings, classifiers, data, run_dir, extra, given)
    return OracleStageResult(classifiers, attributes, summary, tuple(extra))


def _labelled_splits(cfg: Config, name: str, spec: ClassifierSpec, data: PreparedData) -> ClassifierData:
    """Train/val/test for one classifier, and its OOD evaluation sets.

    The target's classifier trained on the run's own ID source uses the run's ID splits and OOD
    sets (:func:`uses_run_split`), so its test split is the run's. Any other source is read and
    split with the run's data settings. Each OOD set is then scored on what the classifier did
    not train on: sequences of its train and val splits are removed from it, while its test
    sequences may stay. (ACPvsRandom and ACPvsTM share all 413 ACPs, so removing every shared
    sequence would leave one side without positives.)
    """
    if uses_run_split(cfg, name, spec):
        return ClassifierData(data.id_train, data.id_val, data.id_test, data.ood)
    splits = prepare_data(
        cfg.data, id_source=spec.train_source, ood_sources=[], corpus_sources=[], target=name, identity=False
    )
    seen = set(splits.id_train["sequence"]) | set(splits.id_val["sequence"])
    ood = {}
    for ood_spec in spec.ood_sources:
        source = parse_source_spec(ood_spec)
        frame = deduplicate(read_source(source, _record_filter(cfg))).frame
        ood[source.name], _ = remove_sequences(frame[frame[name].notna()] if name in frame else frame, seen)
    return ClassifierData(splits.id_train, splits.id_val, splits.id_test, ood)


def _record_filter(cfg: Config) -> RecordFilter:
    return RecordFilter(
        max_len=cfg.data.max_len,
        policy=cfg.data.bad_records,
        drop_log=DropLog(),
        alphabet=reading_alphabet(str(cfg.data.alphabet), str(cfg.data.stereo)),
    )


def uses_run_split(cfg: Config, name: str, spec: ClassifierSpec) -> bool:
    """Whether classifier ``name`` trains on the run's own ID split.

    True for ``train_source: id`` and for the target's classifier whose source is the run's ID
    source (``data=acp`` then needs no change to the classifier settings).
    """
    if spec.train_source == "id":
        if cfg.data.target != name:
            raise ConfigValueError(
                f"attributes.classifiers.{name}.train_source",
                "id",
                f"needs data.target={name} (got {cfg.data.target}) or a labelled source spec",
            )
        return True
    return spec.train_source == cfg.data.id_source and cfg.data.target == name


def training_data_settings(cfg: Config, name: str, spec: ClassifierSpec) -> dict:
    """Every data setting a classifier's training split depends on (part of its cache key).

    A classifier on the run's ID split also depends on the run's OOD sources (shared sequences
    leave the ID set); its own ``ood_sources`` are only scored.
    """
    from_id = uses_run_split(cfg, name, spec)
    return {
        "source": cfg.data.id_source if from_id else spec.train_source,
        "excluded_ood_sources": [*cfg.data.ood_sources, *cfg.data.ood_csv] if from_id else [],
        "split_seed": cfg.data.split_seed,
        "val_fraction": cfg.data.val_fraction,
        "test_fraction": cfg.data.test_fraction,
        "max_len": cfg.data.max_len,
        "overlap": str(cfg.data.overlap),
        "bad_records": str(cfg.data.bad_records),
        "stereo": str(cfg.data.stereo),
    }


def classifier_seed(cfg: Config) -> int:
    """The classifiers' seed: ``attributes.classifier.seed``, or the run's seed when that is null.

    An ensemble's members share the run's classifiers; fixing this seed lets ensembles started at
    different seeds share them too, so they differ only in their autoencoders.
    """
    configured = cfg.attributes.classifier.seed
    return cfg.seed if configured is None else configured


def train_attribute_classifiers(cfg: Config, data: PreparedData, run_dir: Path) -> dict[str, TrainedClassifier]:
    """Train or reload every configured classifier; write ``metrics/classifiers.json``.

    Nothing is trained when the attribute set uses no classifier (``attributes.use_classifiers``).
    """
    if not cfg.attributes.use_classifiers:
        log.info("attribute set %r uses no trained classifier; none trained", cfg.attributes.set)
        return {}
    training = cfg.attributes.classifier
    trained: dict[str, TrainedClassifier] = {}
    report: dict[str, dict] = {}
    for name, spec in cfg.attributes.classifiers.items():
        splits = _labelled_splits(cfg, name, spec, data)
        recipe = ClassifierRecipe(
            name=name,
            max_len=cfg.data.max_len,
            epochs=training.epochs,
            batch_size=training.batch_size,
            seed=classifier_seed(cfg),
            model_kwargs=training.model_kwargs(),
            alphabet=str(cfg.data.alphabet),
            data=training_data_settings(cfg, name, spec),
        )
        paths = cfg.paths
        result = train_or_load_classifier(recipe, splits.train, splits.val, paths.cache_dir, paths.lock_timeout_s)
        trained[name] = result
        report[name] = {
            "checkpoint": str(result.checkpoint),
            "cache_key": result.key,
            "reused": result.reused,
            "train": len(splits.train),
            "test": len(splits.test),
            "test_auroc": classifier_auroc(result.model, splits.test, name),
            "ood_auroc": {
                ood: classifier_auroc(result.model, frame, name)
                for ood, frame in splits.ood.items()
                if name in frame.columns
            },
            "ood_n": {ood: len(frame) for ood, frame in splits.ood.items()},
        }
        log.info(
            "classifier %r (%s): test AUROC %.3f; OOD %s",
            name,
            "reused" if result.reused else "trained",
            report[name]["test_auroc"],
            {k: round(v, 3) for k, v in report[name]["ood_auroc"].items()},
        )
    write_json(RunLayout(run_dir).metrics.classifiers, report)
    return trained


def classifier_quality(run_dir: Path) -> dict[str, dict]:
    """What :func:`train_attribute_classifiers` wrote to ``metrics/classifiers.json`` (``{}``: no classifier)."""
    path = RunLayout(run_dir).metrics.classifiers
    return json.loads(path.read_text()) if path.is_file() else {}


EXTERNAL_ORACLE_LABELS = {
    "planted_score": "none of the run's labels: the planted function the control's labels were drawn from "
    "(its known truth; docs/method.md §8)",
    "macrel_amp": "no label of this run's splits was used to train it, but its training data probably shares "
    "sequences with them: macrel's pre-trained AMP model (its authors trained it on the AmPEP set, whose AMPs come "
    "from APD3, CAMP and LAMP, as modlamp's AMPs do; docs/method.md §2)",
}


def target_oracle(
    cfg: Config, oracle_for: dict[str, str], data: PreparedData, declared: dict[str, tuple[str, str]] | None = None
) -> dict | None:
    """The target's oracle column and which labels it saw: every result states it (docs/method.md §2).

    ``declared``: each user oracle's column, and its key and the ``labels_seen`` its user declared."""
    columns = [name for name, prop in oracle_for.items() if prop == data.target]
    if not columns:
        return None
    column = data.target if data.target in columns else columns[0]
    spec = cfg.attributes.classifiers.get(column) if cfg.attributes.use_classifiers else None
    if column in (declared or {}):
        key, seen = declared[column]
        labels = f"what its user declared ({key}.labels_seen): {seen}"
        pretrained = True
    elif spec is not None and uses_run_split(cfg, column, spec):
        labels = f"the run's whole ID training split ({len(data.id_train)} labelled sequences): a trained classifier"
        pretrained = False
    elif spec is not None:
        labels = f"its own training split of {spec.train_source}: a trained classifier"
        pretrained = False
    else:
        labels = EXTERNAL_ORACLE_LABELS.get(
            column,
            "no label of this run's splits was used to train it (an external pre-trained model; what it "
            "was trained on is for its authors to say)",
        )
        pretrained = True
    return {"column": column, "labels_seen": labels, "pretrained": pretrained}


def declared_labels(attributes: AttributeSet) -> dict[str, tuple[str, str]]:
    """Each user oracle's column, with its key and the ``labels_seen`` its user declared."""
    return {
        column: (block.key, block.labels_seen)
        for block in attributes.blocks
        if isinstance(block, UserOracleBlock)
        for column in block.names
    }


def build_run_attribute_set(
    cfg: Config,
    classifiers: dict[str, TrainedClassifier],
    data: PreparedData,
    run_dir: Path,
    extra: tuple = (),
    given: AttributeSet | None = None,
) -> tuple[AttributeSet, dict]:
    """The run's attribute set and its summary, also written to ``attributes/set.json``.

    The JSON also holds each attribute's mean and standard deviation over the ID train split, so
    a reader can see the scale of every column before any perturbation.
    """
    attributes = given or build_attribute_set(
        name=cfg.attributes.set,
        descriptors=list(cfg.attributes.descriptors),
        classifiers=[trained.model for trained in classifiers.values()],
        external=list(cfg.attributes.external),
        oracles=cfg.attributes.oracles,
        max_len=cfg.data.max_len,
        bad_records=str(cfg.data.bad_records),
        alphabet=str(cfg.data.alphabet),
        extra=extra,
    )
    features = attributes.features_for(data.target)
    values = attributes(list(data.id_train["sequence"]))
    summary = {
        "set": attributes.name,
        "names": attributes.names,
        "oracle_for": attributes.oracle_for,
        "target": data.target,
        "target_oracle": target_oracle(cfg, attributes.oracle_for, data, declared_labels(attributes)),
        "features_for_target": features.names,
        "id_train_mean": dict(zip(attributes.names, values.nanmean(dim=0).tolist())),
        "id_train_std": dict(zip(attributes.names, nanstd(values).tolist())),
    }
    write_json(RunLayout(run_dir).attributes.set, summary)
    log.info(
        "attribute set %r: %d attributes; %d are features for target %r (its oracles %s left out)",
        attributes.name,
        len(attributes),
        len(features),
        data.target,
        sorted(set(attributes.names) - set(features.names)) or "none",
    )
    return attributes, summary
