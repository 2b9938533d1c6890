"""Known third-party console messages that tell a latentgraph user nothing, silenced one by one.

Each is matched by its exact text (or its module and category), so every other warning, and
every one of the project's own, still shows.
"""

from __future__ import annotations

import logging
import warnings

# Lightning's advertisements for its hosted products, its note that our ParameterSummary replaces its
# own, its hardware inventory (our log's "stage wae: fitting on ..." line says where the fit runs), its echo of our
# limit_*_batches=1.0 settings, and its note that a fit ran its max_epochs (our log says when it ends)
_LIGHTNING_TIPS = (
    "💡 Tip: For seamless cloud",
    "Trainer already configured with model summary callbacks",
    "GPU available: ",
    "TPU available: ",
    "HPU available: ",
    "`Trainer(limit_train_batches=",
    "`Trainer(limit_val_batches=",
    "`Trainer(limit_test_batches=",
    "`Trainer(limit_predict_batches=",
    "`Trainer.fit` stopped: `max_epochs=",
)


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


_TIP_FILTER = _DropMessages(_LIGHTNING_TIPS)


def quiet_third_party_messages() -> None:
    """Silence the known noise of Lightning, torch and W&B (idempotent)."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if _TIP_FILTER not in logger.filters:
            logger.addFilter(_TIP_FILTER)
    # gcsfs, imported by fsspec's registry when Lightning resolves a path, announces an experimental flag at INFO
    logging.getLogger("gcsfs").setLevel(logging.WARNING)
    # torch deprecates LeafSpec; Lightning 2.6's pytree helper still builds one on every batch
    warnings.filterwarnings(
        "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
    )
