#!/usr/bin/env bash
# Create .venv-blender: a Blender as a user has it, the bpy module and what it ships (numpy, ...),
# without torch or e3nn. tests/test_install.py installs the extension zip into it.
# Idempotent: a second run only checks the stamp of the requirement.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIREMENT="bpy==5.0.1"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv-blender/bin/python ]; then
    "$PYTHON" -m venv .venv-blender
fi
stamp=.venv-blender/.requirements
if [ "$(cat "$stamp" 2>/dev/null)" != "$REQUIREMENT" ]; then
    .venv-blender/bin/python -m pip install --quiet "$REQUIREMENT"
    echo "$REQUIREMENT" > "$stamp"
fi
