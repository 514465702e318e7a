#!/usr/bin/env bash
# Folder conversion (historic backfills), `ecites convert --to xml DIR -o OUT`, against its Python
# peer built on lxml (scripts/peer/convert_lxml.py), on the same folder in the same run:
# - the rate of each (permits/s), RUNS times, interleaved (ecites, peer, ecites, peer, ...), and
#   the median of the per-pair ratios against the goal (10x); medians, not the best run, because
#   the machine is shared;
# - peak resident memory of ecites for a small and the large folder (the goal: flat, < 50 MiB);
# - system calls per permit (strace -c -f, when strace is installed).
# Usage: scripts/bench-folder.sh [SMALL] [LARGE] [RUNS]   (defaults 100, 20000 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-100}
large=${2:-20000}
runs=${3:-5}
python=${PEER_PYTHON:-.venv/bin/python}
cargo build --release --quiet --bin ecites
# The folders are on tmpfs (/dev/shm) unless BENCH_DIR says otherwise: on the shared machine's
# ext4 disk, creating a file scans past every inode freed in the last minutes (ext4's
# recently_deleted), so one run's figures depended on what anyone had deleted before it
# (measured: the same binary from 1.1 s to 8.6 s for 20,000 permits). On tmpfs both converters
# are measured, not the disk's history.
bench_dir=${BENCH_DIR:-$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}" )}
work=$(mktemp -d -p "$bench_dir")
echo "folders in $bench_dir ($(stat -f -c %T "$bench_dir"))"
trap 'rm -rf "$work"' EXIT

make_folder() {
  python3 - "$1" "$2" <<'PY'
import json, pathlib, sys
count, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
template = json.loads(pathlib.Path("cli/tests/fixtures/export-permit.json").read_text())
for index in range(count):
    template["permit_number"] = f"25XA{index:07d}"
    sub = folder / f"{index // 1000:04d}"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / f"permit-{index}.json").write_text(json.dumps(template))
PY
}

# timed NAME COMMAND...: prints "nanoseconds peak_kib". Every run writes into a fresh folder and
# nothing is deleted until the end: ext4 scans past inodes freed in the last minutes when it
# creates a file, which would charge one run for the previous run's clean-up.

timed() {
  local name=$1
  shift
  local started finished
  started=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time" "$@" 2>"$work/log-$name" || true
  finished=$(date +%s%N)
  echo "$(( finished - started )) $(tail -n 1 "$work/time")"
}
ecites() { timed ecites target/release/ecites convert --to xml "$work/in-$1" -o "$work/out-ecites-$2"; }
peer() { timed peer "$python" scripts/peer/convert_lxml.py "$work/in-$1" "$work/out-peer-$2"; }

make_folder "$small" "$work/in-$small"
make_folder "$large" "$work/in-$large"

read -r _ peak_small < <(ecites "$small" small)
tail -n 1 "$work/log-ecites"
echo "folder of $small permits: ecites peak RSS $(( peak_small / 1024 )) MiB"

# The peer writes the same standard XML: checked on one permit before timing anything.
"$python" scripts/peer/convert_lxml.py "$work/in-$small" "$work/peer-check" 2>/dev/null
target/release/ecites convert --to xml "$work/in-$small" -o "$work/ecites-check" 2>/dev/null || true
if cmp -s "$work/peer-check/XA/25XA0000007.xml" "$work/ecites-check/XA/25XA0000007.xml"; then
  echo "peer check: the peer's XML is byte-identical to ecites' for the same permit"
else
  echo "peer check: the peer's XML DIFFERS from ecites' (see scripts/peer/convert_lxml.py)"
fi

results="$work/results"
: >"$results"
peak_large=0
for round in $(seq "$runs"); do
  read -r ecites_ns peak < <(ecites "$large" "$round")
  (( peak > peak_large )) && peak_large=$peak
  read -r peer_ns _ < <(peer "$large" "$round")
  echo "$round $ecites_ns $peer_ns" >>"$results"
done
tail -n 1 "$work/log-ecites"

python3 - "$large" "$peak_large" "$results" <<'PY'
import statistics, sys
count, peak = int(sys.argv[1]), int(sys.argv[2])
rows = [tuple(map(int, line.split())) for line in open(sys.argv[3])]
ecites = [count / (row[1] / 1e9) for row in rows]
peer = [count / (row[2] / 1e9) for row in rows]
ratios = [e / p for e, p in zip(ecites, peer)]
print(f"folder of {count} permits, {len(rows)} interleaved runs each (medians; the machine is shared):")
print(f"  ecites convert: {statistics.median(ecites):8.0f} permits/s  (runs: {', '.join(f'{r:.0f}' for r in ecites)})")
print(f"  lxml peer:      {statistics.median(peer):8.0f} permits/s  (runs: {', '.join(f'{r:.0f}' for r in peer)})")
ratio = statistics.median(ratios)
print(f"  ratio (median of the per-run ratios): {ratio:5.1f}x   goal >= 10x: {'met' if ratio >= 10 else 'MISSED'}"
      f"  (runs: {', '.join(f'{r:.1f}x' for r in ratios)})")
print(f"  ecites peak RSS: {peak / 1024:5.1f} MiB   goal < 50 MiB whatever the folder size: {'met' if peak < 50 * 1024 else 'MISSED'}")
PY

if command -v strace >/dev/null; then
  count=2000
  make_folder "$count" "$work/in-strace"
  strace -f -c -o "$work/strace" target/release/ecites convert --to xml "$work/in-strace" -o "$work/out-strace" 2>/dev/null || true
  total=$(awk '$NF == "total" { print $(NF-2) }' "$work/strace")
  python3 -c "import sys; print(f'  system calls per permit (strace -c -f, {sys.argv[2]} permits): {int(sys.argv[1]) / int(sys.argv[2]):.1f}')" "$total" "$count"
fi
