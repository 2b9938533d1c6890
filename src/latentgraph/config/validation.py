"""The validation engine of the structured configs.

A schema's ``__post_init__`` states its range checks with :func:`check` (and :func:`positive`,
:func:`fraction`, :func:`check_targets`). OmegaConf does not run them while merging, so
:func:`validate_config` instantiates every node (``OmegaConf.to_object``) with each failed check
collected rather than raised, and reports every failure at once, each with its full key, e.g.
``model.latent_dim``; a key no schema knows is named too. :func:`with_changes` replaces values of a
built schema by name, checked again.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import fields, is_dataclass, replace
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from latentgraph.errors import ConfigValueError, InvalidConfigValues

if TYPE_CHECKING:  # the schemas import this module's checks
    from latentgraph.config.schema import Config

# While validate_config checks a node, a failed check is collected here instead of raised, so every
# bad value of the node is named at once; outside validation (a schema built in Python) it raises.
_COLLECTED: ContextVar[list[ConfigValueError] | None] = ContextVar("collected_config_errors", default=None)


def check(ok: bool, key: str, value: Any, requirement: str) -> None:
    if ok:
        return
    error = ConfigValueError(key, value, requirement)
    collected = _COLLECTED.get()
    if collected is None:
        raise error
    collected.append(error)


def positive(node: Any, *names: str) -> None:
    for name in names:
        value = getattr(node, name)
        check(value is not None and value > 0, name, value, "must be > 0")


def fraction(node: Any, name: str, *, closed_right: bool = False) -> None:
    value = getattr(node, name)
    ok = 0 <= value <= 1 if closed_right else 0 <= value < 1
    check(ok, name, value, "must be in [0, 1]" if closed_right else "must be in [0, 1)")


def check_targets(key: str, entries: dict[str, Any]) -> None:
    """Each entry of a ``_target_`` mapping names a class (``PKG.MODULE.NAME``); its other keys are its arguments."""
    for name, entry in entries.items():
        target = entry.get("_target_") if isinstance(entry, dict) else None
        check(
            isinstance(target, str) and "." in target,
            f"{key}.{name}._target_",
            target,
            "must name a class: PKG.MODULE.NAME (its other keys are its arguments)",
        )


def with_changes(settings: Any, **changes: Any) -> Any:
    """``settings`` (a schema dataclass) with some values replaced by name and checked again; a name
    that is not one of its settings raises ``TypeError`` naming it and the known ones."""
    known = [f.name for f in fields(settings)]
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise TypeError(f"{unknown} are not {type(settings).__name__} settings; known: {', '.join(known)}")
    return replace(settings, **changes) if changes else settings


def validate_config(cfg: DictConfig) -> Config:
    """Run every schema's range checks; raise naming the full key of every value that fails.

    One bad value raises :class:`ConfigValueError`; several raise :class:`InvalidConfigValues`
    (a ``ConfigValueError`` whose ``errors`` lists them all). Children are checked before their
    parent, so each error names the deepest node it belongs to. Returns the config as plain
    dataclass instances.
    """
    errors: list[ConfigValueError] = []
    _node_errors(cfg, "", errors)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidConfigValues(errors)
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def _node_errors(node: DictConfig, prefix: str, errors: list[ConfigValueError]) -> set[tuple]:
    """Append the failed checks of ``node`` and its descendants (full keys) to ``errors``; return
    their node-relative forms.

    Building a node rebuilds its children too, so a parent's own list repeats its children's
    failures under their relative keys; those are dropped, leaving the parent's own cross-field checks.
    """
    below: set[tuple] = set()
    errors.extend(_unknown_keys(node, prefix))
    for name, child in node.items_ex(resolve=False):
        if isinstance(child, DictConfig) and is_dataclass(OmegaConf.get_type(child)):
            below |= _node_errors(child, f"{prefix}{name}.", errors)
    raw: set[tuple] = set()
    for error in _collect_checks(node, quiet=bool(errors)):
        form = (error.key, repr(error.value), error.requirement)
        raw.add(form)
        if form not in below:
            errors.append(ConfigValueError(f"{prefix}{error.key}", error.value, error.requirement))
    return raw | below


def _unknown_keys(node: DictConfig, prefix: str) -> list[ConfigValueError]:
    """A key that ``node``'s schema does not have: one added with ``+`` (``+graph.alpah=0.01``)
    passes Hydra's struct check and would otherwise be dropped without a word. Named in full, with
    the nearest setting's name where one is close."""
    schema = OmegaConf.get_type(node)
    if not is_dataclass(schema):
        return []
    known = [f.name for f in fields(schema)]
    found = []
    for name, value in node.items_ex(resolve=False):
        if name not in known:
            near = get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {prefix}{near[0]}?" if near else f"; its settings are {', '.join(known)}"
            found.append(ConfigValueError(f"{prefix}{name}", value, "is not a setting" + hint))
    return found


def _collect_checks(node: DictConfig, quiet: bool = False) -> list[ConfigValueError]:
    """Build ``node``'s dataclasses with every failed check collected rather than raised.

    ``quiet``: failures were found already, so a build that cannot finish (a check tripping
    over a bad value, an interpolation only Hydra resolves) adds nothing and is not raised.
    """
    collected: list[ConfigValueError] = []
    token = _COLLECTED.set(collected)
    try:
        OmegaConf.to_object(node)
    except Exception:
        # a check after a failed one may trip over the bad value (a comparison, a division); the
        # failure already collected is the one to report. With none collected, it is a real fault.
        if not (collected or quiet):
            raise
    finally:
        _COLLECTED.reset(token)
    return collected
