#!/usr/bin/env bash
# Folder conversion (historic backfills): throughput and peak resident memory for a small and a
# large folder. The conversion streams, so peak memory should be the same for both sizes.
# Usage: scripts/bench-folder.sh [SMALL] [LARGE]   (defaults 100 and 20000 permits)
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-100}
large=${2:-20000}
cargo build --release --quiet --bin ecites
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for count in "$small" "$large"; do
  python3 - "$count" "$work/in-$count" <<'PY'
import json, pathlib, sys
count, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
template = json.loads(pathlib.Path("cli/tests/fixtures/export-permit.json").read_text())
for index in range(count):
    template["permit_number"] = f"25XA{index:07d}"
    sub = folder / f"{index // 1000:04d}"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / f"permit-{index}.json").write_text(json.dumps(template))
PY
  started=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time-$count" \
    target/release/ecites convert --to xml "$work/in-$count" -o "$work/out-$count" 2>"$work/log-$count" || true
  seconds=$(python3 -c "print(($(date +%s%N) - $started) / 1e9)")
  read -r peak_kib <"$work/time-$count"
  tail -n 1 "$work/log-$count"
  python3 - "$count" "$seconds" "$peak_kib" <<'PY'
import sys
count, seconds, peak = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rate = count / seconds if seconds > 0 else float("inf")
print(f"folder of {count:>7} permits: {seconds:7.3f} s, {rate:8.0f} permits/s, peak RSS {peak / 1024:5.1f} MiB")
PY
done
