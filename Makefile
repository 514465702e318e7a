# ecites-exchange: the front door. `make demo` runs the main job locally, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
MOTO_VERSION := 5.2.5
MOTO_SERVER := $(VENV)/bin/moto_server
# The Python peer of the folder conversion (scripts/peer/convert_lxml.py), for make bench.
LXML_VERSION := 6.1.3
LXML_PEER := $(VENV)/.lxml-$(LXML_VERSION)
ECITES := target/debug/ecites
EPIX_SAMPLE := shared/domain/tests/fixtures/epix/v2-get-non-final-cites-certificate.xml
# A small hand-made checklist in the shape of the Species+ export (docs/species.md).
SPECIES_SAMPLE := shared/domain/tests/fixtures/species/Index_of_CITES_Species_2026-11-01_0930.csv

.PHONY: help demo demo-cli test lint fmt build bench schema clean

# Operator targets: lint-infra, package, deploy (infra/README.md).
include mk/infra.mk
include mk/local-aws.mk
include mk/exchange.mk
include mk/notify.mk

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

# The local AWS emulator (moto server), pinned, in a project-local virtualenv.
$(MOTO_SERVER):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)"

$(LXML_PEER):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "lxml==$(LXML_VERSION)"
	touch $@

build: ## Build every crate (debug)
	$(CARGO) build --workspace

demo: demo-pipeline demo-exchange demo-epix demo-notify demo-cli demo-use ## Run the main job locally: ingest, the two-MA exchange, EPIX Connect both ways, notifications, the CLI, then permit use on the emulated AWS ending with both MAs' CITES annual reports

demo-cli: build ## The ecites CLI over the samples: validate and convert
	@echo "== validate: the EPIX sample, a JSON export permit, a CSV export with two permits"
	@$(ECITES) validate $(EPIX_SAMPLE) cli/tests/fixtures/export-permit.json cli/tests/fixtures/two-permits.csv
	@echo "== convert: the JSON export permit to the standard CITES e-permit XML"
	@$(ECITES) convert --to xml cli/tests/fixtures/export-permit.json
	@echo "== the listing tier with a CITES checklist: grey parrots (Appendix I) declared Appendix II, wild-caught in a country outside their range; refused (exit 1)"
	@$(ECITES) species import --dry-run $(SPECIES_SAMPLE)
	@$(ECITES) validate --species $(SPECIES_SAMPLE) cli/tests/fixtures/grey-parrots-declared-appendix-ii.json; test $$? -eq 1

test: $(MOTO_SERVER) ## Run every test: unit, property, CLI, end-to-end on the local AWS emulator, then the smoke test of the packaged Lambdas
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) $(CARGO) test --workspace
	$(MAKE) --no-print-directory smoke

lint: ## cargo fmt --check, clippy with warnings as errors, and every dependency's version pinned once in [workspace.dependencies]
	$(CARGO) fmt --all -- --check
	$(PYTHON) scripts/check-workspace-deps.py
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

schema: ## Regenerate schema/permit.schema.json and schema/use.schema.json from the model
	$(CARGO) run --quiet --bin ecites -- schema > schema/permit.schema.json
	$(CARGO) run --quiet --bin ecites -- schema --use > schema/use.schema.json

# mk/exchange.mk adds bench-exchange as a prerequisite; mk/infra.mk adds bench-functions.
bench: $(LXML_PEER) ## Measure speed and memory (criterion benches, folder conversion against its lxml peer, pipeline, exchange, packaged functions)
	$(CARGO) bench -p ecites-domain
	$(CARGO) run --release --quiet -p ecites-domain --example checklist_profile
	scripts/bench-folder.sh
	$(MAKE) bench-pipeline

clean: ## Remove build outputs and the emulator's virtualenv
	$(CARGO) clean
	rm -rf $(VENV)
