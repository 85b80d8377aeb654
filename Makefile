# factdesk: every command sets itself up (venv, CPU torch, project) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCIFACT ?= ../shared/data/scifact
Q ?= How many advisers remain?
export Q

.PHONY: install ask chat index status slack eval test lint format bench bench-scifact bench-load clean

# torch goes in first, pinned to the CPU build: unpinned, it would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "factdesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

ask: install
	$(BIN)/factdesk ask "$$Q"

chat: install
	$(BIN)/factdesk chat

index: install
	$(BIN)/factdesk index

status: install
	$(BIN)/factdesk status

slack: install
	$(BIN)/factdesk slack

eval: install
	$(BIN)/factdesk eval

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: install
	$(BIN)/python benchmarks/speed.py --data $(SCIFACT) --out benchmarks/results/speed.json

bench-scifact: install
	$(BIN)/python benchmarks/scifact.py --data $(SCIFACT) --out benchmarks/results/scifact.json

bench-load: install
	$(BIN)/python benchmarks/load.py --events 500 --senders 20 --out benchmarks/results/load.json

clean:
	rm -rf $(VENV) index/chroma.sqlite3 index/*/ .pytest_cache .ruff_cache
