# The two commands of the README. Each creates its own virtual environment
# (.venv), so a fresh machine needs nothing but python3 >= 3.10.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test validate bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, exactly the tested build, so nothing later resolves a newer one.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/stencils_and_integrators.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/python -m pytest -q validation

bench: $(STAMP)
	$(BIN)/python benchmarks/laplacian.py
	$(BIN)/python benchmarks/gray_scott.py
	$(BIN)/python benchmarks/navier_stokes.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
