#!/usr/bin/env bash
# Builds Purser's libFuzzer targets and runs each for a bounded time.
#
#   Fuzz/run.sh [SECONDS] [TARGET]
#
#   SECONDS  how long each target runs (default 60)
#   TARGET   FuzzYAML, FuzzRequest, FuzzMoney, yaml, request, money or all (default all)
#
# Targets run one after the other (one core). Each keeps a working corpus in
# Fuzz/corpus/<target>/ (git-ignored), seeded from Fuzz/seeds/<kind>/, and
# writes crash, timeout, leak and OOM inputs to Fuzz/artifacts/ (git-ignored)
# and its log to Fuzz/logs/<target>.log. The script prints one summary line
# per target and exits 1 if any target produced an artifact or failed.
#
# Reproduce an artifact:   Fuzz/.build-fuzz/debug/FuzzYAML Fuzz/artifacts/crash-…
# Minimise it:             Fuzz/.build-fuzz/debug/FuzzYAML -minimize_crash=1 -runs=10000 Fuzz/artifacts/crash-…
#
# The build shares the machine: it runs under `flock /tmp/purser-build.lock`
# so that it never overlaps another build or test run.
set -euo pipefail

seconds=${1:-60}
target=${2:-all}
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [FuzzYAML|FuzzRequest|FuzzMoney|all]" >&2; exit 2 ;;
esac

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir"

case "$target" in
  all) targets=(FuzzYAML FuzzRequest FuzzMoney) ;;
  FuzzYAML | yaml) targets=(FuzzYAML) ;;
  FuzzRequest | request) targets=(FuzzRequest) ;;
  FuzzMoney | money) targets=(FuzzMoney) ;;
  *) echo "$0: unknown target '$target' (FuzzYAML, FuzzRequest, FuzzMoney or all)" >&2; exit 2 ;;
esac

scratch=.build-fuzz
echo "==> building fuzz targets (swift build -c debug --scratch-path $scratch, fuzzer+address sanitizers)" >&2
flock /tmp/purser-build.lock \
  swift build -c debug --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
  >&2 2> >(grep -v "Cannot export local symbol" >&2)
bin=$(flock /tmp/purser-build.lock swift build -c debug --scratch-path "$scratch" --show-bin-path \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

mkdir -p artifacts corpus logs
# The Swift runtime's backtracer would hang libFuzzer's crash handling; ASan
# and libFuzzer report crashes themselves.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:symbolize=1}

status=0
summaries=()
for name in "${targets[@]}"; do
  case "$name" in
    FuzzYAML) kind=yaml; dict=yaml.dict ;;
    FuzzRequest) kind=request; dict=request.dict ;;
    FuzzMoney) kind=money; dict=money.dict ;;
  esac
  mkdir -p "corpus/$name"
  log="logs/$name.log"
  before=$(find artifacts -maxdepth 1 -type f -name "$name-*" | wc -l)
  echo "==> $name for ${seconds}s (log: Fuzz/$log)" >&2
  start=$(date +%s)
  set +e
  "$bin/$name" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -dict="$dict" -artifact_prefix="artifacts/$name-" -print_final_stats=1 \
    "corpus/$name" "seeds/$kind" > "$log" 2>&1
  code=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  after=$(find artifacts -maxdepth 1 -type f -name "$name-*" | wc -l)
  new=$(( after - before ))

  # The last status line, e.g. "#123456 DONE cov: 3126 ft: 9000 corp: 800/50Kb lim: 4096 exec/s: 2000 rss: 400Mb".
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  verdict=ok
  if (( new > 0 )); then
    verdict="FAILED: $new new artifact(s) in Fuzz/artifacts/"
    status=1
  elif (( code != 0 )); then
    verdict="FAILED: exit code $code (see Fuzz/$log)"
    status=1
  fi
  summary="$name: ${runs:-?} executions in ${elapsed}s (${rate:-?} exec/s), cov ${cov:-?} edges, ft ${ft:-?}, corpus ${corp:-?} inputs, peak rss ${rss:-?} MB: $verdict"
  summaries+=("$summary")
  echo "$summary"
done

if (( status != 0 )); then
  echo "==> artifacts:" >&2
  find artifacts -maxdepth 1 -type f | sort >&2
fi
exit "$status"
