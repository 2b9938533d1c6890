"""Hydra's Optuna sweeper, made to resume: the study lives in the sweep folder and a rerun continues it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class ResumableOptunaSweeper(Sweeper):
    """The Optuna sweeper (the same keys), with its study in ``hydra.sweeper.storage`` (SQLite in the sweep folder).

    Rerunning the command into the same ``hydra.sweep.dir`` loads the study and runs only the trials
    that ``n_trials`` still asks for: ``n_trials`` is the search's total, as Optuna's plugin documents
    it. A trial a killed search left running is marked failed. Job folders go on from the study's
    trial numbers (trial k in ``<sweep dir>/k``), so a rerun never overwrites an earlier trial's
    folder. A study run with other overrides or another search space is refused, naming both: a
    search is continued only with what it started with.
    """

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        try:
            from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
        except ImportError as error:  # the optional extra
            raise ImportError(f'hparams_search needs Optuna: pip install "latentgraph[optuna]" ({error})') from None
        self.optuna = OptunaSweeperImpl(**self.settings)
        self.optuna.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.config = config

    def sweep(self, arguments: list[str]) -> Any:
        import optuna

        from latentgraph.errors import ConfigValueError

        Path(self.config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)  # the SQLite file's folder
        search = {"overrides": sorted(arguments), "params": OmegaConf.to_container(self.config.hydra.sweeper.params)}
        study = optuna.create_study(
            study_name=self.optuna.study_name,
            storage=self.optuna.storage,
            directions=self.optuna._get_directions(),  # noqa: SLF001 - the plugin's own reading of direction
            load_if_exists=True,
        )
        trials = study.get_trials(deepcopy=False)
        if trials and study.user_attrs.get("search") != search:
            raise ConfigValueError(
                "hydra.sweep.dir",
                self.config.hydra.sweep.dir,
                f"holds the Optuna study {study.study_name!r} of another search ({study.user_attrs.get('search')}; "
                f"this command: {search}); give a new hydra.sweep.dir to start a new search",
            )
        study.set_user_attr("search", search)
        finished = sum(trial.state.is_finished() for trial in trials)  # a killed trial is run again
        for trial in trials:
            if trial.state == optuna.trial.TrialState.RUNNING:  # its search was killed while it ran
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        total = self.optuna.n_trials
        self.optuna.n_trials, self.optuna.job_idx = max(0, total - finished), len(trials)
        if trials:
            log.info(
                "resuming the Optuna study %r in %s: %d of %d trials finished, %d to run",
                study.study_name,
                self.optuna.storage,
                finished,
                total,
                self.optuna.n_trials,
            )
        return self.optuna.sweep(arguments)
