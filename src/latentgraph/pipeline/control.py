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
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from latentgraph.artifacts import write_json
from latentgraph.attributes.planted import PlantedBlock
from latentgraph.attributes.sets import build_attribute_set
from latentgraph.config.schema import Config
from latentgraph.data import PreparedData
from latentgraph.data.planted import planted_labels, spurious_selection

log = logging.getLogger(__name__)


def control_stage(settings: Config, data: PreparedData, run_dir: Path) -> tuple[PreparedData, PlantedBlock | None]:
    """``(data, planted oracle)``: the control's data and oracle block, or the run's data and ``None``."""
    control = settings.control
    if not control.enabled:
        return data, None
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
    block = PlantedBlock(control.members, control.weights, centre.tolist(), scale.tolist(), control.target)
    threshold = float(np.nanmedian(train_values[:, spurious]))
    rng = np.random.default_rng(control.seed)
    weights = np.asarray(control.weights, dtype=float)

    def shifted(frame: pd.DataFrame, agreement: float) -> tuple[pd.DataFrame, dict]:
        values = descriptors(list(frame["sequence"])).double().numpy()
        scorable = np.isfinite(values).all(axis=1)
        logits = ((values[:, members] - centre) / scale) @ weights
        labels = planted_labels(np.nan_to_num(logits), control.noise, rng)
        keep = spurious_selection(labels, values[:, spurious], threshold, agreement, rng) & scorable
        kept = frame.loc[keep].assign(**{control.target: labels[keep]}).reset_index(drop=True)
        flag = values[keep, spurious] > threshold
        return kept, {
            "rows": int(keep.sum()),
            "of": len(frame),
            "positives": int(labels[keep].sum()),
            "spurious_agrees_with_label": float(np.mean(flag == (labels[keep] == 1))) if keep.any() else None,
        }

    splits, report = {}, {}
    for name in ("id_train", "id_val", "id_test"):
        splits[name], report[name] = shifted(getattr(data, name), control.agreement)
    ood = {}
    for name, frame in data.ood.items():
        ood[f"{name}_reversed"], report[f"{name}_reversed"] = shifted(frame, 1.0 - control.agreement)
    write_json(
        run_dir / "data" / "control.json",
        {
            "target": control.target,
            "members": list(control.members),
            "weights": list(control.weights),
            "centre": centre.tolist(),
            "scale": scale.tolist(),
            "noise": control.noise,
            "spurious": control.spurious,
            "spurious_threshold": threshold,
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
            threshold,
            100 * (row["spurious_agrees_with_label"] or 0),
        )
    return replace(data, target=control.target, ood=ood, **splits), block
