#!/usr/bin/env bash
# Set up latentgraph in ./.venv: a CPU build of torch (unless a torch is already there), then the
# package (editable) with the molecule domain's extra (RDKit, selfies, datamol), then the MOSES
# sets: the molsets wheel without its dependencies (its pinned pomegranate==0.12.0 does not install
# on current Python; latentgraph only reads its data files).
# Safe to rerun; it only installs what is missing.
#   bash scripts/setup.sh          what the main job needs
#   bash scripts/setup.sh --test   that, plus the test and code-check tools (pytest, ruff, import-linter, ...)
#   LATENTGRAPH_TORCH="torch==2.13.0"  the torch requirement to install (GPU users: install your own first)
set -euo pipefail
extras=molecules
case "${1:-}" in
  "") ;;
  --test) extras=molecules,test ;;
  *) echo "usage: bash scripts/setup.sh [--test]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
python_bin=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "${LATENTGRAPH_TORCH:-torch==2.13.0}"
fi
.venv/bin/python -m pip install --quiet -e ".[$extras]"
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('moses') is None)"; then
  .venv/bin/python -m pip install --quiet --no-deps "molsets==0.3.1"
fi
.venv/bin/python -c "import latentgraph, torch; print(f'latentgraph {latentgraph.__version__} with torch {torch.__version__} ready in .venv')"
