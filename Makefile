# ChurnGuard task runner: the same targets serve developers, the README and CI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
COMPOSE_VENV  := .venv-compose
COMPOSE_STAMP := $(COMPOSE_VENV)/.installed
GRID   ?= full
FAMILY ?= default
SCHEMA ?=
DATA   ?=
# Another table's champion lives in a place of its own (work/<schema name>), so trying a table
# never replaces the bundled one's in models/; WORKDIR=... puts it anywhere else.
WORKDIR ?= $(if $(SCHEMA),work/$(basename $(notdir $(SCHEMA))))
TABLE_OPTIONS = $(if $(SCHEMA),--schema $(SCHEMA)) $(if $(DATA),--data $(DATA)) $(WORKDIR_OPTION)
WORKDIR_OPTION = $(if $(WORKDIR),--workdir $(WORKDIR))
# The original ChurnGuard's names for where the API listens; churnguard's settings read them too.
API_HOST ?= 127.0.0.1
API_PORT ?= 8001
COMPOSE  := docker compose -f deploy/docker-compose.yml
# A Docker engine that answers (these machines have the client at most): image, api-up, api-down.
HAVE_DOCKER = $(shell docker info >/dev/null 2>&1 && echo yes)

.PHONY: help install install-runtime tools browser run ml-pipeline pipeline train eval promote image smoke api-up api-down serve \
	bench-serve bench-score bench-load bench-startup docs test test-all test-unit test-integration lint format bench data lock clean

help:
	@echo "make run         install the runtime, run the pipeline on the bundled data, then serve API + UI on http://$(API_HOST):$(API_PORT)"
	@echo "make serve       serve the current champion on http://$(API_HOST):$(API_PORT) (API_HOST, API_PORT)"
	@echo "make ml-pipeline validate -> train -> evaluate -> promote on data/raw/churn.csv (GRID=$(GRID) FAMILY=$(FAMILY))"
	@echo "                 another table: make run SCHEMA=schemas/telco.yaml DATA=../shared/data/telco.csv"
	@echo "                 (its champion in work/telco; make serve SCHEMA=schemas/telco.yaml serves it again)"
	@echo "make test        install with the dev extras, then run the fast tier of the tests (under 10 minutes on 2 cores)"
	@echo "make test-all    install, then run every test: the fast tier and the slow one (what CI runs)"
	@echo "make lint        ruff check, ruff format --check, mypy, import-linter (layers), bandit"
	@echo "make docs        build the documentation site into site/ (mkdocs --strict: a broken link fails it)"
	@echo "The original ChurnGuard's commands:"
	@echo "make train / eval / promote   one step each (SCHEMA=, DATA=, GRID=, FAMILY= as above)"
	@echo "make smoke       start the API, check /ready, a prediction, a 422 and /metrics, stop (API_URL=...: a running one)"
	@echo "make image       build the container image (needs a Docker engine)"
	@echo "make api-up / api-down        the compose stack up / down (needs a Docker engine)"
	@echo "make pipeline    lint -> test -> train -> eval -> promote -> image -> smoke"
	@echo "make tools       install (root) the Debian packages the tests drive: chromium, prometheus, alertmanager,"
	@echo "                 postgresql, openjdk-17-jre-headless"
	@echo "make bench       training benchmark: default and gbm searches, on the original data and against the oracle"
	@echo "make data        regenerate data/raw/churn.csv from the synthetic generator"

# What running ChurnGuard needs (make run, serve, train...): the package and its runtime
# dependencies. Spark, PostgreSQL's server, DVC and the test tools are not among them.
$(RUNTIME_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ChurnGuard needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(RUNTIME_STAMP)

# What developing it needs on top (make test, make lint, CI): the dev extras, Spark among them.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ChurnGuard needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(RUNTIME_STAMP) $(STAMP)

install: $(STAMP)

install-runtime: $(RUNTIME_STAMP)

# Debian packages the tests drive for real: chromium + chromedriver (UI), prometheus + promtool and
# alertmanager's amtool (monitoring), the PostgreSQL server (a throwaway cluster per test session)
# and a Java 17 runtime (Spark in local mode). Installed once (root), skipped when present.
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/chromedriver /usr/bin/prometheus /usr/bin/promtool /usr/bin/amtool /usr/bin/java
SYSTEM_PACKAGES := chromium chromium-driver prometheus prometheus-alertmanager postgresql openjdk-17-jre-headless

tools: $(COMPOSE_STAMP)
	@missing=""; for tool in $(SYSTEM_TOOLS); do [ -x $$tool ] || missing="$$missing $$tool"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing initdb"; \
	if [ -z "$$missing" ]; then echo "system tools present"; \
	else echo "installing$$missing"; apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); fi

browser: tools

# `docker compose config` needs the compose plugin; where the docker client has none (this
# machine's kind), the Python docker-compose 1.29 in its own venv validates the same file.
$(COMPOSE_STAMP):
	@if docker compose version >/dev/null 2>&1; then mkdir -p $(COMPOSE_VENV) && touch $(COMPOSE_STAMP); else \
	test -x $(COMPOSE_VENV)/bin/python || $(PYTHON) -m venv $(COMPOSE_VENV); \
	$(COMPOSE_VENV)/bin/pip install --quiet "cython<3" wheel setuptools && \
	$(COMPOSE_VENV)/bin/pip install --quiet --no-build-isolation "pyyaml==5.4.1" && \
	$(COMPOSE_VENV)/bin/pip install --quiet "docker-compose==1.29.2" && touch $(COMPOSE_STAMP); fi

# Ours: the four ML steps in one process (what `make run` runs before serving).
ml-pipeline: $(RUNTIME_STAMP)
	$(BIN)/churnguard pipeline --grid $(GRID) --family $(FAMILY) $(TABLE_OPTIONS)

run: ml-pipeline serve

serve: $(RUNTIME_STAMP)
	$(BIN)/churnguard serve --host $(API_HOST) --port $(API_PORT) $(WORKDIR_OPTION)

# The original ChurnGuard's commands, one step each, then its whole chain.
train: $(RUNTIME_STAMP)
	$(BIN)/churnguard train --grid $(GRID) --family $(FAMILY) $(TABLE_OPTIONS)

eval: $(RUNTIME_STAMP)
	$(BIN)/churnguard evaluate $(TABLE_OPTIONS)

promote: $(RUNTIME_STAMP)
	$(BIN)/churnguard promote $(TABLE_OPTIONS)

smoke: $(STAMP)
	API_PORT=$(API_PORT) $(BIN)/python deploy/smoke.py $(if $(API_URL),--url $(API_URL))

image:
	@if [ "$(HAVE_DOCKER)" = yes ]; then docker build -f deploy/Dockerfile -t churnguard:latest .; \
	else echo "make image: no Docker engine on this machine: the image is not built (CI's image job builds it)"; fi

api-up:
	@[ "$(HAVE_DOCKER)" = yes ] || { echo "make api-up: no Docker engine on this machine; \`make serve\` runs the API without containers" >&2; exit 1; }
	$(COMPOSE) up -d

api-down:
	@[ "$(HAVE_DOCKER)" = yes ] || { echo "make api-down: no Docker engine on this machine: no stack to stop" >&2; exit 1; }
	$(COMPOSE) down

pipeline: lint test train eval promote image smoke

# The fast tier (every test but tests/conftest.py's SLOW_TIER modules); test-all is everything,
# what CI runs.
test: $(STAMP) tools
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP) tools
	$(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-integration: $(STAMP) tools
	$(BIN)/python -m pytest tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r churnguard -q

# The documentation site: docs/*.md and the README's sections it includes. --strict turns every
# warning into a failure: a link to a missing page or heading, a page left out of the nav.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/train.py

bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve.py

bench-score: $(STAMP)
	$(BIN)/python benchmarks/score.py

bench-startup: $(STAMP)
	$(BIN)/python benchmarks/startup.py

bench-load: $(STAMP)
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/load.py --memory

data: $(STAMP)
	$(BIN)/churnguard generate-data --rows 2000 --seed 42 --out data/raw/churn.csv

lock:
	rm -rf /tmp/churnguard-lock && $(PYTHON) -m venv /tmp/churnguard-lock
	/tmp/churnguard-lock/bin/pip install --quiet --upgrade pip
	/tmp/churnguard-lock/bin/pip install --quiet -e ".[dev]"
	(printf "# Exact versions tested together (pip freeze of a fresh .venv). Install with: pip install -c constraints.txt -e '.[dev]'\n# Refresh: make lock\n"; \
	 /tmp/churnguard-lock/bin/pip freeze --exclude-editable | grep -v '^churnguard') > constraints.txt

clean:
	rm -rf models reports mlflow.db site .pytest_cache .mypy_cache .ruff_cache
