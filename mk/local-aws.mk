# The local AWS stack (moto server) and the ingest pipeline demo and bench.
# Included by the main Makefile: `include mk/local-aws.mk`.

MOTO_VERSION ?= 5.2.5
PYTHON ?= python3

# moto server in a project venv (about 20 s, once). The e2e tests and ecites-local find it here
# (or at $ECITES_MOTO_SERVER). Guarded so that a Makefile which already has this rule (and sets
# MOTO_SERVER) can include this fragment without an "overriding recipe" warning.
ifndef MOTO_SERVER
MOTO_SERVER := .venv/bin/moto_server
.venv/bin/moto_server:
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)"
	@test -x $@
endif

.PHONY: moto demo-pipeline bench-pipeline test-pipeline

moto: $(MOTO_SERVER) ## Install moto server (the local AWS emulator) into .venv

# The ingest pipeline on the emulator: starts moto on a free port, sets everything up, drops a
# realistic set of permits, runs ingest until quiet, prints the summary and stops what it started.
demo-pipeline: $(MOTO_SERVER) ## The ingest pipeline on the emulator: permits in, XML, ledger and deliveries out, summary
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error cargo run --quiet -p ecites-local -- demo

# AWS requests per permit and throughput through ingest on the emulator.
bench-pipeline: $(MOTO_SERVER) ## AWS requests per permit and throughput through ingest on the emulator
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) cargo run --quiet -p ecites-local -- bench --permits $(or $(PERMITS),100)

# Unit and end-to-end tests of the pipeline crates (the e2e tests start moto themselves).
test-pipeline: $(MOTO_SERVER) ## Unit and end-to-end tests of the pipeline crates
	ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) cargo test -p ecites-exchange -p ecites-aws -p ecites-ingest -p ecites-local -p ecites-e2e
