#!/usr/bin/env bash
# Create .venv-jax, an environment of its own for the e3nn-jax peer of the benchmark
# (jax on CPU, e3nn-jax, and numpy/scipy for the engine's graph code). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv-jax/bin/python ]; then
    "$PYTHON" -m venv .venv-jax
fi
if ! .venv-jax/bin/python -c "import jax, e3nn_jax, scipy" 2>/dev/null; then
    .venv-jax/bin/python -m pip install --quiet --upgrade pip
    .venv-jax/bin/python -m pip install --quiet jax e3nn-jax scipy
fi
