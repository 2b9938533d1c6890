"""Config composition and validation: a bad value fails before any work and names its full key."""

from pathlib import Path

import pytest
from conftest import compose_config
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from latentgraph.config import ConfigValueError, validate_config
from latentgraph.errors import InvalidConfigValues

CONF = Path(__file__).resolve().parents[1] / "conf"


def validated(*overrides):
    cfg = compose_config([*overrides, "paths.run_dir=/tmp/unused"])
    return validate_config(cfg)


def test_default_config_validates():
    config = validated()
    assert config.model.latent_dim == 128 and config.data.max_len == 50
    assert config.seed == 0


@pytest.mark.parametrize(
    "option, accelerator, devices, strategy",
    [("gpu", "gpu", 1, "auto"), ("ddp_cpu", "cpu", 2, "ddp"), ("ddp_gpu", "gpu", -1, "ddp")],
)
def test_trainer_options_compose_without_lightnings_distributed_sampler(option, accelerator, devices, strategy):
    trainer = validated(f"trainer={option}").trainer
    assert (trainer.accelerator, trainer.devices, trainer.strategy) == (accelerator, devices, strategy)
    assert trainer.use_distributed_sampler is False  # the datamodule shards its own resumable order


def _leaves(node: dict, prefix: str = ""):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _preset(path: Path) -> tuple[dict, str, list[str]]:
    """A preset's own values, the package they land in ('' for _global_), and its parent options."""
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    package = "" if "@package _global_" in path.read_text() else f"{path.parent.name}."
    parents = []  # options of the same group it extends: `- trained`, `- /model/wae@model`
    for entry in raw.pop("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            name = entry.split("@")[0]
            parents.append(CONF / f"{name.lstrip('/')}.yaml" if name.startswith("/") else path.parent / f"{name}.yaml")
    return raw, package, parents


@pytest.mark.parametrize(
    "path",
    [path for path in sorted(CONF.glob("*/*.yaml")) if path.parent.name not in ("hydra", "hparams_search")],
    ids=lambda path: f"{path.parent.name}/{path.stem}",
)
def test_no_preset_repeats_a_schema_default(path):
    """The schema owns every default: a ``default.yaml`` holds none of its values, and another option
    holds only what it changes (a value equal to the schema's is kept only where the option's own
    parent option changed it, as ``attributes=descriptors`` turns off ``trained``'s classifiers)."""
    from latentgraph.config.schema import Config

    schema = OmegaConf.structured(Config)
    values, package, parents = _preset(path)
    parent_values = {}
    for parent in parents:
        parent_values.update(dict(_leaves(_preset(parent)[0], package)))
    for key, value in _leaves(values, package):
        node = OmegaConf.select(schema, key, throw_on_missing=False)
        default = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        default = default.value if hasattr(default, "value") else default
        if value == default and not (key in parent_values and parent_values[key] != default):
            raise AssertionError(f"{path.parent.name}/{path.name}: {key}: {value!r} repeats the schema's default")


def test_the_repeat_check_catches_a_repeated_default(tmp_path):
    group = tmp_path / "graph"
    group.mkdir()
    (group / "default.yaml").write_text("alpha: 0.05\n")
    with pytest.raises(AssertionError, match="graph.alpha: 0.05 repeats the schema's default"):
        test_no_preset_repeats_a_schema_default(group / "default.yaml")


def test_the_molecule_domain_replaces_data_attributes_and_classifiers():
    config = validated("domain=molecules")
    assert (config.domain, config.data.alphabet, config.data.target) == ("molecules", "selfies", "soluble")
    assert list(config.attributes.classifiers) == ["soluble"]
    assert "qed" in config.attributes.descriptors and "net_charge" not in config.attributes.descriptors
    assert config.model.max_len == config.data.max_len == 64
    assert config.data.stereo == "keep" and validated("domain=molecules", "data.stereo=strip").data.stereo == "strip"
    peptides = validated("attributes=trained")
    assert (peptides.domain, peptides.data.alphabet, list(peptides.attributes.classifiers)) == (
        "peptides",
        "peptides",
        ["amp", "acp"],
    )


@pytest.mark.parametrize(
    "overrides, key, message",
    [
        (["domain=molecules", "data.alphabet=peptides"], "data.alphabet", "does not fit domain=molecules"),
        (["data.alphabet=selfies"], "data.alphabet", "does not fit domain=peptides"),
        (["domain=molecules", "attributes.descriptors=[qed,net_charge]"], "attributes.descriptors", "net_charge"),
        (["attributes.descriptors=[qed]"], "attributes.descriptors", "not peptides descriptors"),
        (["data.stereo=strip"], "data.stereo", "applies to molecule alphabets only"),
    ],
)
def test_a_domain_refuses_the_other_domains_alphabet_and_descriptors(overrides, key, message):
    with pytest.raises(ConfigValueError, match=f"invalid config value {key}=.*{message}"):
        validated(*overrides)


def test_the_default_is_the_measured_configuration_and_footprint_a_preset():
    """The default graph and perturbation are the most reproducible measured without labels; the
    target's default oracle was trained on none of the run's splits; the paper's literal reading is a preset."""
    config = validated()
    assert config.graph.structure == "gradient_covariance" and config.perturbation.base == "posterior"
    assert list(config.perturbation.deltas) == [-2.0, 2.0] and config.ensemble.size == 1
    assert config.graph.empty_blanket == "skip" and config.graph.bootstrap == 50
    assert config.attributes.external == ["macrel"] and not config.attributes.use_classifiers
    assert config.predictor.selection == "regime"
    stable = validated("experiment=stable_blanket")
    assert stable.ensemble.size == 5 and stable.graph.structure == "gradient_covariance"
    footprint = validated("experiment=footprint")
    assert footprint.graph.structure == "footprint" and footprint.perturbation.base == "prior"
    assert list(footprint.perturbation.deltas) == [-2.0, -1.0, 1.0, 2.0]


def test_the_acp_shift_and_the_molecules_train_their_target_oracle():
    """No pre-trained model exists for acp or soluble: their data options pick trained classifiers."""
    acp = validated("data=acp")
    assert acp.attributes.use_classifiers and "acp" in acp.attributes.classifiers and acp.attributes.external == []
    assert validated("data=acp", "attributes=descriptors").attributes.set == "descriptors"  # the command line wins
    assert validated("domain=molecules").attributes.set == "molecules"


def test_wae_class_preset_sizes():
    config = validated("model=wae_class")
    assert (config.model.latent_dim, config.model.embedding_dim, config.model.encoder_hidden) == (100, 150, 80)
    assert config.data.max_len == config.model.max_len == 25


def test_resume_with_an_explicit_checkpoint_is_refused():
    with pytest.raises(ConfigValueError, match="invalid config value resume=True: resume=true finds the checkpoint"):
        validated("resume=true", "ckpt_path=/x/last.ckpt")
    assert validated("resume=true", "ckpt_path=last").resume


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.latent_dim=-3", "model.latent_dim"),
        ("data.max_len=0", "data.max_len"),
        ("model.word_dropout=1.5", "model.word_dropout"),
        ("data.test_fraction=0.95", "data.test_fraction"),
        ("logger.wandb.mode=sometimes", "logger.wandb.mode"),
        ("callbacks.checkpoint.every_n_train_steps=0", "callbacks.checkpoint.every_n_train_steps"),
        ("graph.alpha=2", "graph.alpha"),
        ("graph.bootstrap=-1", "graph.bootstrap"),
        ("trainer.limit_train_batches=0", "trainer.limit_train_batches"),
        ("seed=-1", "seed"),
        ("attributes.descriptors=[length,flexibility]", "attributes.descriptors"),
        ("attributes.external=[deepamp]", "attributes.external"),
    ],
)
def test_range_errors_name_the_full_key(override, key):
    with pytest.raises(ConfigValueError) as info:
        validated(override)
    assert info.value.key == key
    assert f"{key}=" in str(info.value)  # data.max_len=0 also names model.max_len, its interpolation


@pytest.mark.parametrize(
    "overrides, keys",
    [
        (["model.latent_dim=-3", "model.word_dropout=1.5"], ["model.latent_dim", "model.word_dropout"]),  # one node
        (["model.latent_dim=-3", "graph.alpha=2", "seed=-1"], ["model.latent_dim", "graph.alpha", "seed"]),
        (["graph.bootstrap=-1", "data.alphabet=selfies"], ["graph.bootstrap", "data.alphabet"]),  # + a root check
    ],
)
def test_every_bad_value_is_named_at_once(overrides, keys):
    with pytest.raises(InvalidConfigValues) as info:
        validated(*overrides)
    assert sorted(error.key for error in info.value.errors) == sorted(keys)
    assert str(info.value).startswith(f"{len(keys)} invalid config values: ")
    assert all(f"{key}=" in str(info.value) for key in keys)


def test_an_attribute_set_with_nothing_in_it_is_refused():
    with pytest.raises(ConfigValueError) as info:
        validated("attributes=descriptors", "attributes.descriptors=[]")
    assert info.value.key == "attributes.set" and "holds no attribute" in str(info.value)


def test_attribute_set_options_compose():
    assert validated("attributes=descriptors").attributes.use_classifiers is False
    macrel = validated("attributes=macrel").attributes
    assert macrel.external == ["macrel"] and not macrel.use_classifiers and len(macrel.descriptors) == 12


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.latent_dim=abc", "model.latent_dim"),
        ("model.regularizer=l2", "model.regularizer"),
        ("data.bad_records=ignore", "data.bad_records"),
        ("model.no_such_key=1", "no_such_key"),
    ],
)
def test_type_errors_fail_at_composition(override, key):
    with pytest.raises(ConfigCompositionException) as info:
        compose_config([override])
    assert key in str(info.value) or key in str(info.value.__cause__)


def test_groups_exist():
    cfg = compose_config(["paths.run_dir=/tmp/unused"])
    for group in (
        "data",
        "model",
        "attributes",
        "perturbation",
        "graph",
        "predictor",
        "trainer",
        "logger",
        "callbacks",
        "paths",
    ):
        assert group in cfg, group
    assert OmegaConf.select(cfg, "trainer._target_") == "pytorch_lightning.Trainer"


@pytest.mark.parametrize(
    "override, key, hint",
    [
        ("+graph.alpah=0.01", "graph.alpah", "did you mean graph.alpha?"),
        ("+attributes.oracle.tox._target_=mypkg.tox", "attributes.oracle", "did you mean attributes.oracles?"),
        ("+sead=3", "sead", "did you mean seed?"),
    ],
)
def test_a_key_added_with_plus_that_the_schema_lacks_is_named(override, key, hint):
    """``+`` bypasses Hydra's struct check; a misspelt or unknown setting must not be dropped silently."""
    with pytest.raises(ConfigValueError) as info:
        validated(override)
    assert info.value.key == key and "is not a setting" in str(info.value) and hint in str(info.value)


@pytest.mark.parametrize(
    "group, option",
    [
        (group.parent.name, group.stem)
        for group in sorted(CONF.glob("*/*.yaml"))
        if group.parent.name not in ("hydra", "hparams_search")
    ],
)
def test_every_preset_holds_only_settings_the_schema_has(group, option):
    """Each option composes with no unknown key (an option of the other domain may fail its range
    checks alone, as ``attributes=molecules`` does without ``domain=molecules``)."""
    try:
        validated(f"{group}={option}")
    except ConfigValueError as error:
        assert "is not a setting" not in str(error), str(error)
