"""Hydra's basic sweeper, plus one more launcher job when the jobs were an ensemble's members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


class EnsembleSweeper(Sweeper):
    """The basic sweeper's jobs, in its batches; then, for ``ensemble.jobs=true``, the combining job.

    The combining job (the consensus and the predictors over every member) is launched by the
    sweep's own launcher, as one more job: under ``submitit_slurm`` it is a SLURM job with the
    members' resources and config search path, never work on the submitting node.
    """

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        self.max_batch_size, self.params = max_batch_size, params
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        # Hydra's plugin scan executes the core plugin modules again, so the basic sweeper is looked
        # up now and wrapped, not subclassed (a subclass would hold the class of before the scan)
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        self.basic = BasicSweeper(self.max_batch_size, self.params)
        self.basic.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.config = config

    def sweep(self, arguments: list[str]) -> Any:
        from latentgraph.pipeline.sweep import combining_job

        returns: list[Sequence[JobReturn]] = self.basic.sweep(arguments)
        if not OmegaConf.select(self.config, "ensemble.jobs", default=False):
            return returns
        overrides = combining_job(self.config.hydra.sweep.dir)
        if overrides is None:  # no ensemble to build: the reason is in the sweep's outcome
            return returns
        self.basic.validate_batch_is_legal([overrides])
        members = sum(len(batch) for batch in returns)
        results = self.basic.launcher.launch([overrides], initial_job_idx=members)
        for result in results:
            _ = result.return_value  # a crashed combining job ends the sweep as a crashed member would
        return [*returns, results]
