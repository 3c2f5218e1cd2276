# Two commands matter: `make demo` and `make test`. Both create the virtual environment first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint bench lock clean lisa-server venv

# --no-cache-dir: where the wheels come from PyPI (torch's CUDA build and its nvidia-* libraries, about
# 4 GB), pip's cache would hold a second copy of them on disk; a CI run once ended 'No space left on device'.
PIP_INSTALL := pip install --quiet --no-cache-dir

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) --upgrade pip
	$(BIN)/$(PIP_INSTALL) -r requirements.lock
	$(BIN)/$(PIP_INSTALL) --no-deps -e .
	touch $@

venv: $(BIN)/.installed

# The stand-in LISA Gradio app the LISA client is tested against (tests/lisa_server): gradio 3.39,
# the seed's server, in an environment of its own (it cannot share one with amodal's gradio_client).
LISA_SERVER ?= build/lisa-server
$(LISA_SERVER)/.installed: tests/lisa_server/requirements.lock
	$(PYTHON) -m venv $(LISA_SERVER)
	$(LISA_SERVER)/bin/$(PIP_INSTALL) -r tests/lisa_server/requirements.lock
	touch $@

lisa-server: $(LISA_SERVER)/.installed

demo: $(BIN)/.installed
	PATH=$(abspath $(BIN)):$$PATH snakemake --cores $(CORES) --profile profiles/local
	@echo
	@cat results/tables/bench.md

# Whole modules to the workers, in collection order: tests/conftest.py puts the slowest first.
# One worker more than the cores: the SLURM test mostly waits for the scheduler's status checks and
# the LISA tests for the stand-in app, and the third worker keeps the cores busy meanwhile (on 2
# cores: 566 s with 3 workers, 632 s with 2).
TEST_WORKERS ?= $(shell echo $$(($(CORES) + 1)))
test: $(BIN)/.installed $(LISA_SERVER)/.installed
	tools/system_packages.sh
	PATH=$(abspath $(BIN)):$$PATH AMODAL_LISA_SERVER_PYTHON=$(abspath $(LISA_SERVER))/bin/python \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

# ruff (check and format, settings in pyproject.toml) and snakefmt in an environment of their own
# (LINT_ENV: make predefines LINT, so `LINT ?=` would not take).
LINT_ENV ?= build/lint
$(LINT_ENV)/.installed: tools/lint.lock
	$(PYTHON) -m venv $(LINT_ENV)
	$(LINT_ENV)/bin/$(PIP_INSTALL) -r tools/lint.lock
	touch $@

LINTED := src tests benchmarks tools workflow

lint: $(BIN)/.installed $(LINT_ENV)/.installed
	$(LINT_ENV)/bin/ruff check $(LINTED)
	$(LINT_ENV)/bin/ruff format --check $(LINTED)
	$(LINT_ENV)/bin/snakefmt --check Snakefile workflow/rules
	PATH=$(abspath $(BIN)):$$PATH snakemake --lint --cores 1

# The demo's work in one process on one core, then the demo workflow on $(CORES) cores, and their ratio.
bench: $(BIN)/.installed
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python benchmarks/classical_speed.py --workflow --cores $(CORES)

# Re-resolve requirements.in into requirements.lock (and envs/amodal.yaml) in a scratch venv.
lock:
	rm -rf build/lock && $(PYTHON) -m venv build/lock
	build/lock/bin/pip install --quiet -r requirements.in
	build/lock/bin/python tools/write_lock.py build/lock

clean:
	rm -rf results .snakemake
