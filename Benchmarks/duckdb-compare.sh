#!/usr/bin/env bash
# The audit's checks written as SQL in DuckDB over the same Purser JSON Lines,
# timed against `purser audit` in the same run.
#   Benchmarks/duckdb-compare.sh PURSER [RECORDS]
set -euo pipefail
purser=${1:?usage: duckdb-compare.sh PURSER [RECORDS]}
records=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
work=$(mktemp -d /tmp/purser-duckdb-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$purser" generate --policy "$root/policies" --records "$records" --seed 11 -o "$work/usage.jsonl"
sync  # the kernel writing the generated log back would compete with both timings
python3 "$here/duckdb_checks.py" "$purser" "$root/policies" "$work/usage.jsonl"
