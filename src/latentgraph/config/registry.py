"""Hydra registration: the schema as ``base_config`` and the ``log_file`` resolver."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from latentgraph.config.schema import Config


def register_configs() -> None:
    """Register the schema as ``base_config``; ``conf/config.yaml`` lists it first in its defaults.

    Also registers the ``log_file`` resolver: ``latentgraph.log``, or ``latentgraph.rank<r>.log``
    in the extra processes Lightning's DDP launches into the same run directory.
    """
    ConfigStore.instance().store(name="base_config", node=Config)
    if not OmegaConf.has_resolver("log_file"):
        OmegaConf.register_new_resolver("log_file", _log_file_name)


def _log_file_name() -> str:
    from pytorch_lightning.utilities import rank_zero_only

    rank = getattr(rank_zero_only, "rank", 0)
    return "latentgraph.log" if rank == 0 else f"latentgraph.rank{rank}.log"
