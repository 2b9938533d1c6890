"""The user's own attribute models (``attributes.oracles.<name>``) as attribute blocks.

An oracle is any callable from a list of sequences to scores ``[n]`` or ``[n, k]``: a function
(``args`` become its keyword arguments) or a class (built once with ``args``, then called). Its
columns are ``columns``, else the callable's own ``names``, else ``[<name>]``. A wrong shape, an
import that fails or a callable that raises is a :class:`ConfigValueError` naming the oracle's key.
Rows it returns as NaN are counted (``nan_rows``) and named in one warning; the run goes on.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from latentgraph.config.schema import OracleSpec
from latentgraph.errors import ConfigValueError

log = logging.getLogger(__name__)


def resolve_target(key: str, target: str) -> Any:
    """The object ``PKG.MODULE.NAME`` names, or a :class:`ConfigValueError` naming ``key`` and the cause."""
    module_name, _, attribute = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any failure to import the user's module is the user's to see
        raise ConfigValueError(key, target, f"its module {module_name!r} cannot be imported ({error})") from None
    if not hasattr(module, attribute):
        raise ConfigValueError(key, target, f"module {module_name!r} has no {attribute!r}")
    return getattr(module, attribute)


class UserOracleBlock:
    """One ``attributes.oracles`` entry: its callable, column names and the targets it is an oracle of."""

    def __init__(self, name: str, spec: OracleSpec):
        self.key = f"attributes.oracles.{name}"
        target = resolve_target(f"{self.key}._target_", spec._target_)
        try:
            self._oracle: Callable[[list[str]], Any] = (
                target(**spec.args) if inspect.isclass(target) else _with_args(target, spec.args)
            )
        except Exception as error:  # noqa: BLE001 - a constructor that refuses its arguments
            raise ConfigValueError(f"{self.key}.args", spec.args, f"{spec._target_} refused them ({error})") from None
        if not callable(self._oracle):
            raise ConfigValueError(f"{self.key}._target_", spec._target_, "is not callable on a list of sequences")
        self.names = list(spec.columns or getattr(self._oracle, "names", None) or [name])
        if len(spec.oracle_for) not in (0, 1, len(self.names)):
            raise ConfigValueError(
                f"{self.key}.oracle_for",
                spec.oracle_for,
                f"names {len(spec.oracle_for)} targets for {len(self.names)} columns {self.names}: "
                "give one for all columns or one per column",
            )
        targets = spec.oracle_for * len(self.names) if len(spec.oracle_for) == 1 else spec.oracle_for
        self.oracle_for = dict(zip(self.names, targets))
        self.labels_seen = spec.labels_seen
        self.nan_rows, self._warned = 0, False  # rows the oracle could not score, counted over every call

    def __call__(self, batch: Any) -> torch.Tensor:
        sequences = list(batch.sequences)
        if not sequences:
            return torch.empty(0, len(self.names))
        try:
            scores = np.asarray(self._oracle(sequences), dtype=np.float32)
        except Exception as error:  # noqa: BLE001 - the user's model failed on these sequences
            raise ConfigValueError(self.key, self.names, f"raised on {len(sequences)} sequences ({error!r})") from None
        if scores.ndim == 1 and len(self.names) == 1:
            scores = scores[:, None]
        if scores.shape != (len(sequences), len(self.names)):
            n, k = len(sequences), len(self.names)
            expected = f"({n},)" if k == 1 else f"({n}, {k})"
            raise ConfigValueError(
                self.key, self.names, f"returned shape {tuple(scores.shape)} for {n} sequences; expected {expected}"
            )
        missing = int(np.isnan(scores).any(axis=1).sum())
        if missing:
            self.nan_rows += missing
            if not self._warned:
                log.warning(
                    "%s returned NaN for %d of %d sequences; later NaN rows are counted in its nan_rows, "
                    "not repeated here",
                    self.key,
                    missing,
                    len(sequences),
                )
                self._warned = True
        return torch.from_numpy(np.ascontiguousarray(scores))


def _with_args(function: Callable, args: dict[str, Any]) -> Callable[[Sequence[str]], Any]:
    if not args:
        return function

    def oracle(sequences: Sequence[str]) -> Any:
        return function(sequences, **args)

    oracle.names = getattr(function, "names", None)  # type: ignore[attr-defined]
    return oracle
