# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export NO_PROXY := 127.0.0.1,localhost,$(NO_PROXY)

.PHONY: demo test lint format install install-dev node-mjml bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

# The official MJML compiler, for the strict-validation test and the benchmark's comparison.
# Installed from the npm registry into a gitignored folder; the tests themselves stay offline.
NODE_MJML := tests/.node/node_modules/mjml/package.json
MJML_NPM_VERSION ?= 4.18.0
$(NODE_MJML):
	npm install --prefix tests/.node --no-audit --no-fund --loglevel=error mjml@$(MJML_NPM_VERSION)
node-mjml: $(NODE_MJML)

demo: $(STAMP)
	$(BIN)/newsletter demo

# pytest exits 5 when it collected no tests: for the whole suite that is a failure, said plainly.
test: $(DEV_STAMP) $(NODE_MJML)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests, treating that as a failure"; exit 1; fi; \
	exit $$rc

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(DEV_STAMP) $(NODE_MJML)
	@for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache newsletter.db outbox tests/.node
