"""An attribute oracle from a saved ONNX model file (``attributes.oracles.<name>._target_`` =
``latentgraph.attributes.onnx_oracle.OnnxOracle``, ``args.path`` = the file).

The model is run with onnxruntime (a dependency) on features of each sequence: the project's
peptide descriptors (``featurizer: descriptors``, the 12 columns of
:data:`~latentgraph.config.choices.DESCRIPTOR_NAMES` in that order), or any featurizer the user
names (``PKG.MODULE.NAME``, called on the list of sequences, or on each sequence with
``per_sequence: true``). A classifier exported with a probability map (scikit-learn's ZipMap) gives
the probability of ``positive_class``; a plain tensor output is returned as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentgraph.errors import ConfigValueError


class OnnxOracle:
    """Scores from the ONNX model in ``path`` on the features ``featurizer`` computes."""

    def __init__(
        self,
        path: str,
        featurizer: str = "descriptors",
        per_sequence: bool = False,
        output: str | None = None,
        positive_class: Any = None,
        names: list[str] | None = None,
    ):
        import onnxruntime

        if not Path(path).is_file():
            raise ConfigValueError("args.path", path, "no such ONNX model file")
        try:
            self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - not an ONNX model, or a corrupt one
            raise ConfigValueError("args.path", path, f"cannot be loaded as an ONNX model ({error})") from None
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = output or ("output_probability" if "output_probability" in outputs else outputs[0])
        if self._output not in outputs:
            raise ConfigValueError("args.output", output, f"the model's outputs are {outputs}")
        self._featurize = _featurizer(featurizer, per_sequence)
        self._positive = positive_class
        if names is not None:
            self.names = list(names)

    def __call__(self, sequences: Sequence[str]) -> np.ndarray:
        features = np.asarray(self._featurize(list(sequences)), dtype=np.float32)
        [scores] = self._session.run([self._output], {self._input: features})
        if isinstance(scores, list) and scores and isinstance(scores[0], dict):  # a ZipMap: one dict per row
            positive = self._positive if self._positive is not None else sorted(scores[0])[-1]
            return np.asarray([row[positive] for row in scores], dtype=np.float32)
        return np.asarray(scores, dtype=np.float32)


def _featurizer(name: str, per_sequence: bool):
    if name == "descriptors":
        from latentgraph.attributes.descriptors import compute_descriptors
        from latentgraph.config.choices import DESCRIPTOR_NAMES
        from latentgraph.data.alphabet import PEPTIDES

        def descriptors(sequences: list[str]) -> np.ndarray:
            width = max(map(len, sequences))
            return compute_descriptors(PEPTIDES.tokenize(sequences, width), list(DESCRIPTOR_NAMES)).numpy()

        return descriptors
    from latentgraph.attributes.user_oracles import resolve_target

    function = resolve_target("args.featurizer", name)
    if per_sequence:
        return lambda sequences: [function(sequence) for sequence in sequences]
    return function
