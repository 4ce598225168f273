#!/usr/bin/env bash
# Benchmarks ferret as ../shared/bench/README.md prescribes: W1-W4, median of
# five runs after a warm-up, peak RSS from /usr/bin/time -v, every wall time
# also given as a ratio to the JSON parse floor measured in the same run.
#
#   scripts/bench.sh                 # standard 1M-event corpus
#   EVENTS=100000 scripts/bench.sh   # smaller
#   FERRET_BIN=/tmp/old/ferret scripts/bench.sh  # another build (no cargo build)
#
# Generated data goes to /tmp and is reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${FERRET_SHARED:-../shared}
EVENTS=${EVENTS:-1000000}
RUNS=${RUNS:-5}
TAG=$([ "$EVENTS" = 1000000 ] && echo 1m || echo "$EVENTS")
DATA=/tmp/bench-$TAG.ndjson
TARGET=${CARGO_TARGET_DIR:-target}

if [ ! -s "$DATA" ]; then
  echo "generating $DATA ($EVENTS events)..." >&2
  python3 "$SHARED/bench/gen_events.py" --events "$EVENTS" --hosts 200 --seed 1 \
    --attacks 50 --truth "/tmp/bench-$TAG.truth.json" > "$DATA.tmp"
  mv "$DATA.tmp" "$DATA"
fi
# W4's events are the corpus's first thousand, kept per corpus size: the
# heads of the 100k and 1M corpora differ.
W4_DATA=/tmp/bench-w4-$TAG.ndjson
head -n 1000 "$DATA" > "$W4_DATA"

cargo build --release --quiet --manifest-path "$SHARED/bench/floor/Cargo.toml" --target-dir /tmp/json-floor
# This VM's minutes differ by 10-20%: two builds are only comparable when
# benchmarked in the same hour, which FERRET_BIN allows without a rebuild.
if [ -n "${FERRET_BIN:-}" ]; then
  FERRET=$FERRET_BIN
else
  cargo build --release --quiet -p ferret
  FERRET=$TARGET/release/ferret
fi
[ -x "$FERRET" ] || { echo "bench: $FERRET is not an executable" >&2; exit 1; }
FLOOR_BIN=/tmp/json-floor/release/json-floor

# measure NAME CMD...: prints "median_seconds peak_rss_kb" after a warm-up.
measure() {
  "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; "$@" >/dev/null; }
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v -o /tmp/bench-time.txt "$@" >/dev/null 2>/dev/null
    t=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' /tmp/bench-time.txt)
    m=$(awk -F': ' '/Maximum resident set size/ {print $2}' /tmp/bench-time.txt)
    times+=("$t")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med $rss"
}

W3_QUERY='process where process.name : "python*" and process.args : "-c"'
read -r floor floor_rss < <(measure "$FLOOR_BIN" "$DATA")
read -r lines _ < <(measure "$FLOOR_BIN" "$DATA" --mode lines)
read -r w1 w1_rss < <(measure "$FERRET" scan --format ndjson --rules "$SHARED/seed/persistence_systemd_netcon.toml" "$DATA")
read -r w2 w2_rss < <(measure "$FERRET" scan --format ndjson --rules "$SHARED/corpus/detection-rules" "$DATA")
read -r w3 w3_rss < <(measure "$FERRET" query --format ndjson "$W3_QUERY" "$DATA")
read -r w4 w4_rss < <(measure "$FERRET" scan --format ndjson --rules "$SHARED/corpus/detection-rules" "$W4_DATA")

row() { # name seconds rss events
  awk -v n="$1" -v s="$2" -v f="$floor" -v r="$3" -v e="$4" 'BEGIN {
    printf "| %s | %.2f s | %.2f x | %s | %d MB |\n", n, s, s / f, (s > 0 ? sprintf("%.0f", e / s) : "-"), r / 1024 }'
}
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo "data: $DATA ($EVENTS events, $(du -h "$DATA" | cut -f1))"
echo
echo "| workload | median wall | ratio to parse floor | events/s | peak RSS |"
echo "| --- | --- | --- | --- | --- |"
row "parse floor" "$floor" "$floor_rss" "$EVENTS"
row "line floor" "$lines" 0 "$EVENTS"
row "W1 seed rule" "$w1" "$w1_rss" "$EVENTS"
row "W2 all EQL rules" "$w2" "$w2_rss" "$EVENTS"
row "W3 query" "$w3" "$w3_rss" "$EVENTS"
row "W4 all rules, 1,000 events" "$w4" "$w4_rss" 1000
