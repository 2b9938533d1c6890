"""The positive control's stage (docs/method.md §8, ``control=planted``): the run's real sequences
get a planted label and a spurious shift, before the oracles are built.

The planted function's centres and scales and the spurious attribute's threshold are read from the
ID training sequences (no label is read); then every row gets a label drawn from the planted logit,
and each split keeps the rows that make ``control.spurious`` agree with the label (ID) or disagree
with it (OOD) about ``control.agreement`` of the time. The result replaces the run's data for every
later stage; the autoencoder's corpus and key are untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from latentgraph.atomic import write_json
from latentgraph.attributes.planted import PlantedBlock
from latentgraph.attributes.sets import AttributeSet, build_attribute_set
from latentgraph.config.schema import Config, ControlConfig
from latentgraph.data import PreparedData
from latentgraph.data.planted import planted_labels, spurious_selection
from latentgraph.run_layout import RunLayout

log = logging.getLogger(__name__)


def control_stage(settings: Config, data: PreparedData, run_dir: Path) -> tuple[PreparedData, PlantedBlock | None]:
    """``(data, planted oracle)``: the control's data and oracle block, or the run's data and ``None``."""
    control = settings.control
    if not control.enabled:
        return data, None
    planting = _Planting.fit(settings, data)
    block = PlantedBlock(
        control.members, control.weights, planting.centre.tolist(), planting.scale.tolist(), control.target
    )
    splits, report = {}, {}
    for name in ("id_train", "id_val", "id_test"):
        splits[name], report[name] = planting.shifted(getattr(data, name), control.agreement)
    ood = {}
    for name, frame in data.ood.items():
        ood[f"{name}_reversed"], report[f"{name}_reversed"] = planting.shifted(frame, 1.0 - control.agreement)
    _record(planting, report, run_dir)
    return replace(data, target=control.target, ood=ood, **splits), block


@dataclass
class _Planting:
    """The planted label rule and the spurious selection, with centres, scales and threshold read from
    the ID training sequences; ``rng`` draws every row's label and selection in turn."""

    control: ControlConfig
    descriptors: AttributeSet
    members: list[int]
    spurious: int
    centre: np.ndarray
    scale: np.ndarray
    threshold: float
    rng: np.random.Generator

    @classmethod
    def fit(cls, settings: Config, data: PreparedData) -> _Planting:
        control = settings.control
        descriptors = build_attribute_set(
            name="planted control",
            descriptors=list(dict.fromkeys([*control.members, control.spurious])),
            max_len=settings.data.max_len,
            bad_records=str(settings.data.bad_records),
        )
        members = [descriptors.names.index(m) for m in control.members]
        spurious = descriptors.names.index(control.spurious)
        train_values = descriptors(list(data.id_train["sequence"])).double().numpy()
        centre = np.nanmean(train_values[:, members], axis=0)
        scale = np.nanstd(train_values[:, members], axis=0)
        threshold = float(np.nanmedian(train_values[:, spurious]))
        rng = np.random.default_rng(control.seed)
        return cls(control, descriptors, members, spurious, centre, scale, threshold, rng)

    def shifted(self, frame: pd.DataFrame, agreement: float) -> tuple[pd.DataFrame, dict]:
        """``frame``'s rows with planted labels, kept so the spurious attribute agrees with the label
        about ``agreement`` of the time; and their counts."""
        control = self.control
        values = self.descriptors(list(frame["sequence"])).double().numpy()
        scorable = np.isfinite(values).all(axis=1)
        logits = ((values[:, self.members] - self.centre) / self.scale) @ np.asarray(control.weights, dtype=float)
        labels = planted_labels(np.nan_to_num(logits), control.noise, self.rng)
        keep = spurious_selection(labels, values[:, self.spurious], self.threshold, agreement, self.rng) & scorable
        kept = frame.loc[keep].assign(**{control.target: labels[keep]}).reset_index(drop=True)
        flag = values[keep, self.spurious] > self.threshold
        return kept, {
            "rows": int(keep.sum()),
            "of": len(frame),
            "positives": int(labels[keep].sum()),
            "spurious_agrees_with_label": float(np.mean(flag == (labels[keep] == 1))) if keep.any() else None,
        }


def _record(planting: _Planting, report: dict, run_dir: Path) -> None:
    """``data/control.json`` (the planted rule and each split's counts), and one log line per split."""
    control = planting.control
    write_json(
        RunLayout(run_dir).data.control,
        {
            "target": control.target,
            "members": list(control.members),
            "weights": list(control.weights),
            "centre": planting.centre.tolist(),
            "scale": planting.scale.tolist(),
            "noise": control.noise,
            "spurious": control.spurious,
            "spurious_threshold": planting.threshold,
            "agreement": control.agreement,
            "splits": report,
        },
    )
    for name, row in report.items():
        log.info(
            "control: %s keeps %d of %d rows, %d positive; %s > %.3g agrees with the label on %.0f %%",
            name,
            row["rows"],
            row["of"],
            row["positives"],
            control.spurious,
            planting.threshold,
            100 * (row["spurious_agrees_with_label"] or 0),
        )
