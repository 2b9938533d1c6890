"""The run's machinery beside the stages: the stage cache and its keys (:mod:`.cache`), the loggers,
callbacks and run log (:mod:`.tracking`), W&B lineage (:mod:`.lineage`) and the console
(:mod:`.console`: third-party messages kept quiet)."""
