# Cove: `make run` sets everything up and starts the assistant; `make test` sets up and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cove-installed
PYTEST_ARGS ?=
# Two pytest-xdist workers: most of the suite waits on daemon start-ups and training runs
# that use one core each (tests/conftest.py groups the modules).
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadgroup

.PHONY: setup run chat test test-fast test-perturbed lint bench stop clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing Cove and its models (the first build of llama-cpp-python takes ~7 min)…"
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	@echo "Caching llama.cpp's LoRA-to-GGUF converter from the llama-cpp-python sdist…"
	$(BIN)/python -m cove.finetune.install_converter
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/cove start
	$(BIN)/cove ask

test: setup
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The inner loop: everything but real daemon processes, training and the terminal (< 4 min).
test-fast: setup
	$(BIN)/python -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

# The tests that read model output, under three perturbations of sampling (a higher
# temperature and other seeds, as another CPU perturbs the output): they must pass anyway.
# COVE_TEST_PERTURB changes only what tests/support/generation.py hands out, so the other
# modules are left out.
PERTURB_SEEDS ?= 1 2 3
test-perturbed: setup
	@modules=$$(grep -rl "tests.support.generation\|tests.tui.conftest import" tests --include='test_*.py' | sort); \
	for seed in $(PERTURB_SEEDS); do \
		echo "== COVE_TEST_PERTURB=$$seed"; \
		COVE_TEST_PERTURB=$$seed $(BIN)/python -m pytest $(XDIST) -q $$modules $(PYTEST_ARGS) || exit 1; \
	done

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python bench/chat.py

stop:
	-$(BIN)/cove stop

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
