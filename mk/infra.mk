# Operator targets: template lint, Lambda packaging, deployment. Included by the main Makefile.
#
#   make lint-infra   cfn-lint (+ serverless rules) and checkov over infra/template.yaml
#   make package      one Lambda zip per crate under functions/ (cargo lambda, release)
#   make deploy       sam build && sam deploy, every parameter from PARAMS, no prompt (scripts/deploy.sh)
#   make env          the ECITES_* variables of a deployed stack, as export lines
#
# Each tool lives in its own project-local virtualenv, pinned: checkov pins a boto3 that
# conflicts with moto's (.venv), so nothing is shared.

CFN_LINT_VERSION := 1.58.0
CFN_LINT_SERVERLESS_VERSION := 0.3.6
CHECKOV_VERSION := 3.3.30
CARGO_LAMBDA_VERSION := 1.9.2
ZIGLANG_VERSION := 0.17.1

VENV_CFN := .venv-cfn
VENV_CHECKOV := .venv-checkov
VENV_LAMBDA := .venv-lambda
TEMPLATE := infra/template.yaml
PIP_QUIET := --quiet --disable-pip-version-check

CFN_LINT := $(VENV_CFN)/bin/cfn-lint
CHECKOV := $(VENV_CHECKOV)/bin/checkov
CARGO_LAMBDA := $(VENV_LAMBDA)/bin/cargo-lambda

.PHONY: lint-infra lint-cfn lint-checkov package package-to-run smoke bench-functions deploy env clean-infra

$(CFN_LINT):
	$(PYTHON) -m venv $(VENV_CFN)
	$(VENV_CFN)/bin/pip install $(PIP_QUIET) "cfn-lint==$(CFN_LINT_VERSION)" "cfn-lint-serverless==$(CFN_LINT_SERVERLESS_VERSION)"

$(CHECKOV):
	$(PYTHON) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/pip install $(PIP_QUIET) "checkov==$(CHECKOV_VERSION)"

$(CARGO_LAMBDA):
	$(PYTHON) -m venv $(VENV_LAMBDA)
	$(VENV_LAMBDA)/bin/pip install $(PIP_QUIET) "cargo-lambda==$(CARGO_LAMBDA_VERSION)" "ziglang==$(ZIGLANG_VERSION)"

lint-infra: lint-cfn lint-checkov ## Lint infra/template.yaml: cfn-lint (+ serverless rules) and checkov

# -t: cfn-lint's -a takes one or more values, so a template after it would be read as a rules
# module ("No module named 'infra/template'").
lint-cfn: $(CFN_LINT) ## cfn-lint (+ serverless rules) over infra/template.yaml alone (half of lint-infra)
	$(CFN_LINT) -a cfn_lint_serverless.rules -t $(TEMPLATE)
	@echo "cfn-lint: $(TEMPLATE) clean"

lint-checkov: $(CHECKOV) ## checkov over infra/template.yaml alone (half of lint-infra)
	$(CHECKOV) -f $(TEMPLATE) --framework cloudformation --skip-download --compact --quiet
	@echo "checkov: $(TEMPLATE) clean"

# Discovers the crates under functions/ (scripts/package-lambdas.sh); ARCH=arm64|x86_64|host,
# by default arm64 when the rustup toolchain has the aarch64 std, else x86_64; prints each zip's
# size. The smoke test and bench-functions run the bootstraps on this machine, so they package
# for it (ARCH=host) whatever std is installed, unless ARCH is given: `make smoke ARCH=arm64`
# on x86_64 runs the arm64 zips under qemu-user (tools/local/src/packaged/mod.rs, `launcher`;
# it proves they start and answer, its timings are the emulator's).
package: $(CARGO_LAMBDA) ## Build one release Lambda zip per crate under functions/ (target/lambda/<bin>/bootstrap.zip; ARCH=arm64|x86_64|host)
	PATH="$(abspath $(VENV_LAMBDA))/bin:$$PATH" CARGO="$(CARGO)" PYTHON="$(PYTHON)" ARCH="$(ARCH)" scripts/package-lambdas.sh

package-to-run:
	@$(MAKE) --no-print-directory package ARCH=$(or $(ARCH),host)

# The packaged bootstraps, each against a loopback Lambda Runtime API with the environment the
# template gives it, carry permits through the whole exchange on moto (tools/local/src/packaged/smoke.rs).
smoke: package-to-run $(MOTO_SERVER) ## Smoke test: start each packaged Lambda zip against a local Runtime API and moto, run the whole flow
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error $(CARGO) run --quiet -p ecites-local -- smoke | grep -v '^{"'

bench-functions: package-to-run $(MOTO_SERVER) ## Each packaged function's cold start, peak memory on full batches, zip size, against the goals
	@set -o pipefail; ECITES_MOTO_SERVER=$(abspath $(MOTO_SERVER)) RUST_LOG=error $(CARGO) run --quiet -p ecites-local -- bench-functions --permits $(or $(PERMITS),50) | grep -v '^{"'

bench: bench-functions

# Every answer `sam deploy --guided` would ask for is given: the stack name, region, the
# parameters file (infra/parameters.example documents each), CAPABILITY_IAM, and the change set
# shown for one confirmation (CONFIRM=no skips it; infra/README.md, "Deploying").
deploy: ## sam build && sam deploy STACK=<name> PARAMS=<file> [REGION=..] [CONFIRM=no]: no prompt but the change set's
	@command -v sam >/dev/null 2>&1 || { \
	  echo "deploy: the AWS SAM CLI (sam) is not installed: see"; \
	  echo "  https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"; \
	  echo "  then run make deploy again (infra/README.md explains the parameters)."; \
	  exit 2; }
	@$(MAKE) -s --no-print-directory $(CARGO_LAMBDA)
	STACK="$(STACK)" PARAMS="$(PARAMS)" REGION="$(REGION)" CONFIRM="$(or $(CONFIRM),yes)" \
	  CARGO_LAMBDA_BIN="$(abspath $(VENV_LAMBDA))/bin" scripts/deploy.sh

# `eval "$(make -s env STACK=ecites-ke)"` sets this shell up for the ecites CLI (ecites --stack
# does the same per command).
env: ## Print export lines of a deployed stack's ECITES_* configuration: make -s env STACK=<name>
	@test -n "$(STACK)" || { echo "env: STACK is not set (make -s env STACK=ecites-ke)" >&2; exit 2; }
	@$(CARGO) build --quiet --bin ecites
	@$(ECITES) --stack "$(STACK)" env

clean-infra: ## Remove the lint and packaging virtualenvs
	rm -rf $(VENV_CFN) $(VENV_CHECKOV) $(VENV_LAMBDA)
