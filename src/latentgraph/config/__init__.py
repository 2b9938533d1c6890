"""Structured-config schemas, registered in Hydra's ConfigStore, their validation, and the shared choices."""

from latentgraph.config.schema import Config, register_configs, validate_config
from latentgraph.errors import ConfigValueError

__all__ = ["Config", "ConfigValueError", "register_configs", "validate_config"]
