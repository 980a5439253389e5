# The two commands of the README:
#   make demo   - start the embedded local cluster, the controller and a workload; show live failover
#   make test   - lint, type-check, build the control plane (first run only) and run every test
# Everything else is set up on first use: a virtualenv in .venv with pinned dependencies
# (constraints.txt), and the Go-built control plane in ~/.cache/zen-lead.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit cluster-test build bench clean proto

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench,api]'
	@touch $@

demo: $(STAMP)
	$(BIN)/zen-lead demo

test: lint typecheck build
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/lint-imports  # the layering of docs/architecture.md (contracts in pyproject.toml)

typecheck: $(STAMP)
	$(BIN)/mypy

build: $(STAMP)
	$(BIN)/zen-lead cluster build

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(STAMP) build
	$(BIN)/python -m bench

# the API's generated code (Python stubs, packaged proto, Go package) from proto/zenlead/v1/zenlead.proto
proto: $(STAMP)
	$(BIN)/python tools/gen_proto.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
