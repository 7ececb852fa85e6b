# SymBreak: every command sets up .venv first (scripts/setup.sh is quick once it is done).
PYTHON := .venv/bin/python

.PHONY: setup demo test bench extension

setup:
	bash scripts/setup.sh

demo: setup
	$(PYTHON) scripts/render_demo.py --out out/symmetry_breaking.mp4 --blend out/symmetry_breaking.blend

test: setup
	$(PYTHON) -m pytest
	$(PYTHON) -m mypy

bench: setup
	$(PYTHON) scripts/bench.py

extension: setup
	$(PYTHON) scripts/build_extension.py
