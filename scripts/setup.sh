#!/usr/bin/env bash
# Set up latentgraph in ./.venv: a CPU build of torch (unless a torch is already there), then the
# package (editable) with its test extras (which hold the molecule domain's RDKit, selfies and
# datamol), then the MOSES sets: the molsets wheel without its dependencies (its pinned
# pomegranate==0.12.0 does not install on current Python; latentgraph only reads its data files).
# Safe to rerun; it only installs what is missing.
#   LATENTGRAPH_TORCH="torch==2.13.0"  the torch requirement to install (GPU users: install your own first)
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "${LATENTGRAPH_TORCH:-torch==2.13.0}"
fi
.venv/bin/python -m pip install --quiet -e ".[test]"
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('moses') is None)"; then
  .venv/bin/python -m pip install --quiet --no-deps "molsets==0.3.1"
fi
.venv/bin/python -c "import latentgraph, torch; print(f'latentgraph {latentgraph.__version__} with torch {torch.__version__} ready in .venv')"
