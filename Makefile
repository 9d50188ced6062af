# Cove: `make run` sets everything up and starts the assistant; `make test` sets up and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cove-installed
PYTEST_ARGS ?=

.PHONY: setup run chat test lint bench stop clean

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
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python bench/chat.py

stop:
	-$(BIN)/cove stop

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
