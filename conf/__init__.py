"""Hydra configs, shipped in the wheel as latentgraph.conf (search path pkg://latentgraph.conf).

Importing this package registers the structured-config schema (``base_config``) that
``config.yaml`` lists first, so Hydra's compose API works in a fresh interpreter::

    from hydra import compose, initialize_config_module
    with initialize_config_module("latentgraph.conf", version_base="1.3"):
        cfg = compose("config", overrides=["experiment=smoke"])
"""

from latentgraph.config import register_configs

register_configs()
