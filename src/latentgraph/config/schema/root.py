"""The root schema, ``Config``: every group, the run-level settings, and the rules across groups."""

from __future__ import annotations

from dataclasses import dataclass, field

from latentgraph.config.choices import (
    AUTO,
    DESCRIPTOR_NAMES,
    MOLECULE_DESCRIPTOR_NAMES,
    AlphabetName,
    Domain,
    EnsembleOracles,
    Stage,
)
from latentgraph.config.schema.analysis import EnsembleConfig, GraphConfig, PerturbationConfig, PredictorConfig
from latentgraph.config.schema.attributes import AttributesConfig, ControlConfig
from latentgraph.config.schema.data import DataConfig
from latentgraph.config.schema.model import ModelConfig
from latentgraph.config.schema.run import CallbacksConfig, LoggerConfig, PathsConfig, TrainerConfig
from latentgraph.config.validation import check


@dataclass
class Config:
    domain: Domain = Domain.peptides  # peptides | molecules (conf/domain/): alphabet, sources, attributes
    seed: int = 0
    ckpt_path: str | None = None  # a checkpoint to continue from; "last": same as resume=true
    resume: bool = False  # continue the interrupted fit with the same settings from its last.ckpt
    stage: Stage = Stage.all  # all: every stage; graph: rebuild the graph from run_dir's saved effects
    run_dir: str | None = None  # the earlier run that stage=graph reads
    runs: list[str] = field(default_factory=list)  # the finished runs that stage=consensus reads
    optimized_metric: str = "val/recon"  # what the app returns to a sweeper (hparams_search)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    attributes: AttributesConfig = field(default_factory=AttributesConfig)
    perturbation: PerturbationConfig = field(default_factory=PerturbationConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", self.seed, "must be >= 0")
        self._check_stages()
        self._check_domain()

    def _check_stages(self) -> None:
        """Rules across the stage, graph, ensemble and resume settings."""
        check(
            not self.control.enabled or self.data.alphabet == "peptides",
            "control.enabled",
            self.control.enabled,
            "the planted control is built from peptide descriptors; use it with domain=peptides",
        )
        check(
            self.stage != "graph" or self.run_dir is not None,
            "run_dir",
            self.run_dir,
            "stage=graph needs run_dir=<an earlier run directory holding perturbation/>",
        )
        check(
            not (
                self.graph.min_effect == AUTO and self.graph.threshold == "fdr" and self.perturbation.n_directions == 0
            ),
            "graph.min_effect",
            self.graph.min_effect,
            "auto tests each edge against the random-direction null, which perturbation.n_directions=0 turns "
            "off; set perturbation.n_directions > 0 or graph.min_effect to a number",
        )
        check(
            self.stage != "consensus" or len(self.runs) >= 2,
            "runs",
            list(self.runs),
            "stage=consensus needs runs=[DIR,DIR,...]: at least two finished run directories",
        )
        check(
            self.ensemble.size == 1 or not str(self.trainer.strategy).startswith("ddp"),
            "ensemble.size",
            self.ensemble.size,
            "an ensemble fits its autoencoders one after another in one process; with DDP, run one "
            "job per seed and combine them with stage=consensus runs=[...]",
        )
        check(
            self.ensemble.size == 1 or self.ckpt_path is None,
            "ensemble.size",
            self.ensemble.size,
            f"ckpt_path={self.ckpt_path} names one fit; an ensemble resumes its members with resume=true",
        )
        check(
            self.ensemble.oracles == EnsembleOracles.shared or self.attributes.classifier.seed is None,
            "ensemble.oracles",
            str(self.ensemble.oracles),
            f"per_member trains each member's classifiers at the member's seed, but attributes.classifier.seed="
            f"{self.attributes.classifier.seed} fixes one seed for all; drop one of the two",
        )
        check(
            not self.resume or self.ckpt_path in (None, "last"),
            "resume",
            self.resume,
            f"resume=true finds the checkpoint itself; drop it or ckpt_path={self.ckpt_path}",
        )

    def _check_domain(self) -> None:
        """The alphabet, descriptors and lengths fit the domain."""
        molecular = self.data.alphabet != AlphabetName.peptides
        check(
            molecular == (self.domain == Domain.molecules),
            "data.alphabet",
            str(self.data.alphabet),
            f"does not fit domain={self.domain}: peptides take data.alphabet=peptides, molecules selfies or smiles",
        )
        fitting = MOLECULE_DESCRIPTOR_NAMES if self.domain == Domain.molecules else DESCRIPTOR_NAMES
        misfits = [name for name in self.attributes.descriptors if name not in fitting]
        check(
            not misfits,
            "attributes.descriptors",
            list(self.attributes.descriptors),
            f"{misfits} are not {self.domain} descriptors; known: {', '.join(fitting)}",
        )
        check(
            self.model.max_len == self.data.max_len,
            "model.max_len",
            self.model.max_len,
            f"must equal data.max_len={self.data.max_len}",
        )
