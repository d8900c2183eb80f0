# Thin wrappers; each target bootstraps the virtualenv it needs. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The development defaults (DEBUG, a fixed secret key): without this the settings are production's
# and refuse to start with neither (config/settings.py). An environment that sets it keeps its value.
export CAREBUNDLE_ENV ?= development

.PHONY: install run test lint bench worker clean mutate mutate-check

$(BIN)/.installed: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python -q -r requirements.lock
	touch $@

install: $(BIN)/.installed

run: install  ## migrate, load demo data, serve on 127.0.0.1:$(PORT) with a Celery worker
	PORT=$(PORT) VENV=$(VENV) scripts/run.sh

lint: install  ## ruff, the import contracts (layers), mypy on the pure modules, migrations up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint  ## lint, migrations up to date, the whole pytest suite, the mutation check of changed money modules
	CAREBUNDLE_VAR_DIR=$(CURDIR)/var/test $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) mutate-check

# Mutation testing of the pure money modules (scripts/mutation.py, MUTATION.md), niced: it uses every core.
mutate: install  ## every money module's mutants against its own pure tests; writes MUTATION.md (MODULES="payments/calc.py": only those)
	nice -n 10 $(BIN)/python scripts/mutation.py run $(MODULES)

mutate-check: install  ## fails when a money module changed since main (or named in MODULES) scores under its floor
	nice -n 10 $(BIN)/python scripts/mutation.py check $(if $(MODULES),$(MODULES),--changed)

bench: install  ## every benchmark; prints the figures and writes BENCHMARKS.md (BENCH="load pricing": only those)
	$(BIN)/python -m bench $(BENCH)

worker: install
	$(BIN)/celery -A config worker --beat -l info

clean:
	rm -rf var staticfiles .pytest_cache
