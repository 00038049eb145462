# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export BRICKSML_LOCAL_ROOT ?= $(CURDIR)/.bricksml
DATA_ROOT := /Volumes/main/bricksml/data

.PHONY: install lint format test demo clean benchmarks databricks-cli

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The real Databricks CLI for tests/test_databricks_cli.py: built once from its Go module (about
# 4 minutes on 2 cores), then reused from ~/.cache/bricksml. Exit 3 (no Go, no databricks binary)
# leaves the decision to the tests, which skip with that reason off CI and fail on it.
databricks-cli:
	@bash scripts/databricks-cli.sh >/dev/null || [ $$? -eq 3 ]

# Debian's headless Chromium for tests/test_app_browser.py, installed only when missing (as root,
# else through sudo); nothing else downloads a browser.
.PHONY: chromium
chromium:
	@[ -x /usr/bin/chromium ] || { root=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$root apt-get update -qq && $$root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: lint databricks-cli chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

demo: install
	$(BIN)/bricksml sample-data --kind sentiment --rows 5000 --seed 0 \
		--out $(DATA_ROOT)/financial_sentiment/raw/sentiment.csv
	$(BIN)/bricksml run create_data --params-file jobs/create_data.financial_sentiment.json
	$(BIN)/bricksml run train_models --params-file jobs/train_models.financial_sentiment.json
	$(BIN)/bricksml run inference --params-file jobs/inference.financial_sentiment.json
	@echo ""
	@echo "Local workspace mirror: $(BRICKSML_LOCAL_ROOT)"
	@echo "  data version:       $(BRICKSML_LOCAL_ROOT)$(DATA_ROOT)/financial_sentiment/v1"
	@echo "  predictions:        $(BRICKSML_LOCAL_ROOT)/Volumes/main/bricksml/inference/"
	@echo "  executed notebooks: $(BRICKSML_LOCAL_ROOT)/runs/"
	@echo "  MLflow store:       $(BRICKSML_LOCAL_ROOT)/mlflow (runs, metrics, plots, registered models)"
	@echo "  MLflow UI:          $(BIN)/bricksml ui   (prints the address of the training runs to open)"

benchmarks: install
	$(BIN)/python benchmarks/create_data.py

clean:
	rm -rf .bricksml dist build
