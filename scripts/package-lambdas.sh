#!/usr/bin/env bash
# Builds one Lambda zip per function crate under functions/ with cargo lambda (release), then
# prints each zip's path and size. Called by `make package`; cargo-lambda and zig must be on PATH.
#
# ARCH=arm64|x86_64|host; unset, arm64 (Graviton) when the rustup toolchain has the
# aarch64-unknown-linux-gnu std, else x86_64: deploy with the template's Architecture parameter
# set to what this prints.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
PYTHON=${PYTHON:-python3}

# The function crates and their binaries, from cargo metadata: a crate counts when its manifest
# sits in functions/<name>/ and it is a workspace member.
mapfile -t rows < <("$CARGO" metadata --no-deps --format-version 1 --quiet | "$PYTHON" -c '
import json, os, sys
meta = json.load(sys.stdin)
root = meta["workspace_root"]
print("target_directory", meta["target_directory"])
members = set(meta["workspace_members"])
for package in meta["packages"]:
    if package["id"] not in members:
        continue
    rel = os.path.relpath(os.path.dirname(package["manifest_path"]), root)
    parts = rel.split(os.sep)
    if len(parts) != 2 or parts[0] != "functions":
        continue
    for target in package["targets"]:
        if "bin" in target["kind"]:
            print(package["name"], target["name"])
')
target_dir=${rows[0]#target_directory }
packages=()
bins=()
for row in "${rows[@]:1}"; do
  packages+=("--package" "${row%% *}")
  bins+=("${row##* }")
done
for dir in functions/*/; do
  [ -f "$dir/Cargo.toml" ] || continue
  grep -q "\"${dir%/}\"" Cargo.toml || echo "package: warning: ${dir%/} is not a workspace member (add it to Cargo.toml): skipped" >&2
done
if [ ${#bins[@]} -eq 0 ]; then
  echo "package: no function crates under functions/ yet: nothing to build"
  exit 0
fi

# ARCH: arm64 or x86_64 (the template's Architecture values), or host (this machine's, which is
# what the smoke test and bench-functions need: they run the bootstraps here). Unset: arm64 when
# the rustup toolchain has the aarch64 std, else x86_64.
has_aarch64_std() { rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; }
architecture=${ARCH:-}
if [ "$architecture" = host ]; then
  case "$(uname -m)" in
    x86_64 | amd64) architecture=x86_64 ;;
    aarch64 | arm64) architecture=arm64 ;;
    *) echo "package: ARCH=host: no Lambda architecture for this machine ($(uname -m))" >&2; exit 2 ;;
  esac
fi
if [ -z "$architecture" ]; then
  if has_aarch64_std; then
    architecture=arm64
  else
    architecture=x86_64
    echo "package: the aarch64-unknown-linux-gnu std is not installed (rustup target add aarch64-unknown-linux-gnu); building x86_64"
  fi
fi
case "$architecture" in
  arm64)
    arch_flag=--arm64
    if [ "$(uname -m)" != aarch64 ] && ! has_aarch64_std; then
      echo "package: ARCH=arm64 needs the aarch64 std: rustup target add aarch64-unknown-linux-gnu" >&2
      exit 2
    fi
    ;;
  x86_64) arch_flag=--x86-64 ;;
  *) echo "package: ARCH=$architecture: give arm64, x86_64 or host" >&2; exit 2 ;;
esac

echo "package: cargo lambda build --release $arch_flag --output-format zip ${packages[*]}"
"$CARGO" lambda build --release "$arch_flag" --output-format zip "${packages[@]}"

echo "package: zips for Architecture=$architecture"
status=0
for bin in "${bins[@]}"; do
  zip="$target_dir/lambda/$bin/bootstrap.zip"
  if [ -f "$zip" ]; then
    printf '  %-12s %s  %s bytes (%s)\n' "$bin" "${zip#"$PWD"/}" "$(stat -c %s "$zip")" "$(du -h "$zip" | cut -f1)"
  else
    echo "  $bin: $zip MISSING" >&2
    status=1
  fi
done
exit $status
