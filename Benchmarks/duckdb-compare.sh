#!/usr/bin/env bash
# The audit's checks written as SQL in DuckDB over the same Purser JSON Lines,
# timed against `purser audit` (table and JSON lines reports) in the same run.
#   Benchmarks/duckdb-compare.sh PURSER [RECORDS] [VIOLATING-PERCENT]
# VIOLATING-PERCENT: the share of records the generator makes break a rule (default 6;
# issue #21 measures 5, 30 and 70).
set -euo pipefail
purser=${1:?usage: duckdb-compare.sh PURSER [RECORDS] [VIOLATING-PERCENT]}
records=${2:-1000000}
violating=${3:-6}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
work=$(mktemp -d /tmp/purser-duckdb-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$purser" generate --policy "$root/policies" --records "$records" --violations "$violating" --seed 11 -o "$work/usage.jsonl"
sync  # the kernel writing the generated log back would compete with both timings
python3 "$here/duckdb_checks.py" "$purser" "$root/policies" "$work/usage.jsonl"
