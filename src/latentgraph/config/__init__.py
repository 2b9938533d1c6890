"""Structured-config schemas, registered in Hydra's ConfigStore, and their validation."""

from latentgraph.config.schema import Config, ConfigValueError, register_configs, validate_config

__all__ = ["Config", "ConfigValueError", "register_configs", "validate_config"]
