"""Structured-config schemas (:mod:`.schema`), registered in Hydra's ConfigStore (:mod:`.registry`),
their validation engine (:mod:`.validation`), and the shared choices (:mod:`.choices`)."""

from latentgraph.config.registry import register_configs
from latentgraph.config.schema import Config
from latentgraph.config.validation import validate_config
from latentgraph.errors import ConfigValueError

__all__ = ["Config", "ConfigValueError", "register_configs", "validate_config"]
