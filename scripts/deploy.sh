#!/usr/bin/env bash
# `make deploy`: sam build, then a non-interactive sam deploy of infra/template.yaml with every
# parameter from a parameters file (infra/parameters.example documents the format and each
# parameter). Nothing is asked: the answers `sam deploy --guided` would prompt for are all
# given here (infra/README.md, "What --guided would ask"); the change set is shown and
# confirmed once before it is executed (--confirm-changeset) unless CONFIRM=no.
#
# Environment: STACK (required), PARAMS (required, the parameters file), REGION (else
# aws-config's AWS_REGION/AWS_PROFILE region), CONFIRM (yes|no, default yes), BUILD (yes|no,
# default yes), CARGO_LAMBDA_BIN (the directory holding cargo-lambda, put first on PATH).
set -euo pipefail

TEMPLATE=infra/template.yaml
die() { echo "deploy: $*" >&2; exit 2; }

[[ -n "${STACK:-}" ]] || die "STACK is not set (make deploy STACK=ecites-ke PARAMS=infra/parameters.ke)"
[[ "$STACK" =~ ^[a-z][a-z0-9-]{0,54}$ ]] || die "STACK=$STACK: lower case letters, digits and '-', at most 55 characters, starting with a letter (function names are <stack>-webhooks ...)"
[[ -n "${PARAMS:-}" ]] || die "PARAMS is not set: copy infra/parameters.example, fill it in, pass PARAMS=<file>"
[[ -r "$PARAMS" ]] || die "PARAMS=$PARAMS cannot be read"
command -v sam >/dev/null 2>&1 || die "the AWS SAM CLI (sam) is not installed: see
  https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"

# The template's parameter names: the keys indented two spaces under `Parameters:`.
declared=$(awk '/^Parameters:/{on=1; next} /^[A-Za-z]/{on=0} on && /^  [A-Za-z0-9]+:/{sub(/^  /,""); sub(/:.*/,""); print}' "$TEMPLATE")

overrides=()
given=" "
line_no=0
while IFS= read -r line || [[ -n "$line" ]]; do
  line_no=$((line_no + 1))
  [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]] && continue
  [[ "$line" == *=* ]] || die "$PARAMS:$line_no: not Name=value: $line"
  name=${line%%=*}
  value=${line#*=}
  grep -qx -- "$name" <<<"$declared" || die "$PARAMS:$line_no: $name is not a parameter of $TEMPLATE"
  [[ "$given" != *" $name "* ]] || die "$PARAMS:$line_no: $name is given twice"
  [[ "$value" != *'"'* ]] || die "$PARAMS:$line_no: $name: a value may not hold a double quote"
  given+="$name "
  overrides+=("$name=\"$value\"")
done <"$PARAMS"

missing=()
for name in $declared; do
  [[ "$given" == *" $name "* ]] || missing+=("$name")
done
((${#missing[@]} == 0)) || die "$PARAMS does not set ${missing[*]} (every parameter is answered, so nothing is asked; infra/parameters.example lists them)"
grep -qx 'CountryCode=[A-Z][A-Z]' "$PARAMS" || die "$PARAMS: CountryCode must be two upper-case letters"
grep -qx 'AlarmEmail=.*@.*' "$PARAMS" || die "$PARAMS: AlarmEmail must be an e-mail address"

region_args=()
[[ -n "${REGION:-}" ]] && region_args=(--region "$REGION")

if [[ "${BUILD:-yes}" == yes ]]; then
  PATH="${CARGO_LAMBDA_BIN:+$CARGO_LAMBDA_BIN:}$PATH" sam build --template-file "$TEMPLATE" --beta-features
fi

confirm=--confirm-changeset
[[ "${CONFIRM:-yes}" == no ]] && confirm=--no-confirm-changeset

# One string: SAM parses `Name="value"` pairs separated by spaces, quotes keeping a value's spaces.
set -x
sam deploy \
  --stack-name "$STACK" "${region_args[@]}" \
  --capabilities CAPABILITY_IAM \
  --resolve-s3 \
  --no-fail-on-empty-changeset \
  "$confirm" \
  --parameter-overrides "${overrides[*]}"
