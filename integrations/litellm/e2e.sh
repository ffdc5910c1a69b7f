#!/usr/bin/env bash
# End-to-end test of the LiteLLM integration: the real LiteLLM proxy from PyPI
# (pinned, mock_response models: no provider is called), the real purser serve
# on a real PostgreSQL ledger. Usage:
#   bash integrations/litellm/e2e.sh /path/to/purser
# Ends with one line: litellm e2e: A admitted of N, cap $C, settled $S, LiteLLM cost $L
# Everything listens on 127.0.0.1 only; every process it starts is stopped on exit.
set -euo pipefail
PURSER=$(realpath "${1:?usage: e2e.sh /path/to/purser}")
[ -x "$PURSER" ] || { echo "e2e: $PURSER is not executable" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
LITELLM_VERSION=1.108.7
BUILD_PINS="setuptools==80.9.0 wheel==0.45.1"   # to install this package without build isolation
CAP=${PURSER_E2E_CAP:-0.005}        # USD, the race team's daily cap
N=${PURSER_E2E_CALLS:-160}          # concurrent calls racing for it, through two proxies
TIMEOUT_MS=1500                     # the hook's timeout on purser serve
# LiteLLM fetches its price table from GitHub at import unless told to use the
# one in its wheel: the e2e makes no call off the machine, and prices with that table.
export LITELLM_LOCAL_MODEL_COST_MAP=True
start=$SECONDS
say() { printf '[%3d s] %s\n' "$((SECONDS - start))" "$*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/purser-litellm-e2e.XXXXXX")
pids=()
pgbin=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "$pgbin" ] && [ -d "$tmp/pg/data" ]; then
    as_pg "$pgbin/pg_ctl" -D "$tmp/pg/data" -m immediate -w stop > /dev/null 2>&1 || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "e2e failed (exit $rc); last lines of the logs:" >&2
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- the venv: litellm[proxy] pinned, with the versions of e2e/constraints.txt --
py=$(command -v python3)
pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$( (cat "$here/e2e/constraints.txt"; echo "$BUILD_PINS") | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/purser-e2e
venv=$cache/litellm-$LITELLM_VERSION-py$pyver-$key
mkdir -p "$cache"
exec 9> "$cache/litellm.lock"
timeout 400 flock 9 || { echo "e2e: $cache/litellm.lock is held" >&2; exit 1; }
if [ ! -f "$venv/.complete" ]; then
  say "installing litellm[proxy]==$LITELLM_VERSION into $venv (cached for later runs)"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  timeout 300 "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/e2e/constraints.txt" \
    "litellm[proxy]==$LITELLM_VERSION" $BUILD_PINS
  touch "$venv/.complete"
else
  say "using the venv cached in $venv"
fi
exec 9>&-
# The package from this checkout, installed with pip from its path (no network:
# its dependencies are litellm's), into this run's own directory on PYTHONPATH,
# so that the cached venv stays as installed and concurrent runs do not meet.
# (From a copy: setuptools writes build/ and *.egg-info beside the sources.)
mkdir -p "$tmp/pkg" && cp -r "$here/pyproject.toml" "$here/README.md" "$here/src" "$tmp/pkg/"
timeout 120 "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation \
  --target "$tmp/site" "$tmp/pkg" > "$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; exit 1; }
export PYTHONPATH="$tmp/site"
vpy=$venv/bin/python
"$vpy" -c 'import purser_litellm.hook, sys; assert purser_litellm.hook.__file__.startswith(sys.argv[1]), purser_litellm.hook.__file__' "$tmp/site"
"$vpy" -c 'import importlib.metadata as m; assert m.version("litellm") == "'$LITELLM_VERSION'", m.version("litellm")'

say "unit tests of the hook's pure parts"
(cd "$here" && PYTHONDONTWRITEBYTECODE=1 timeout 60 "$vpy" -m unittest discover -s tests -t . > "$tmp/unittest.out" 2>&1) \
  || { cat "$tmp/unittest.out" >&2; exit 1; }
tail -n 3 "$tmp/unittest.out"

# --- PostgreSQL: a cluster of our own in $tmp, on loopback -----------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "e2e: no PostgreSQL in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2; exit 1; }
mkdir -p "$tmp/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$tmp/pg" && chmod 755 "$tmp"
as_pg "$pgbin/initdb" -D "$tmp/pg/data" -U purser --auth=trust --no-sync -E UTF8 --locale=C > "$tmp/initdb.log" 2>&1
pgport=""
for _ in 1 2 3 4 5; do
  p=$(free_port)
  if as_pg "$pgbin/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/server.log" -w -t 30 \
       -o "-c listen_addresses=127.0.0.1 -p $p -k $tmp/pg -c fsync=off -c max_connections=200" start > /dev/null 2>&1; then
    pgport=$p; break
  fi
done
[ -n "$pgport" ] || { cat "$tmp/pg/server.log" >&2; exit 1; }
"$pgbin/psql" -X -q -h 127.0.0.1 -p "$pgport" -U purser -d postgres -c 'CREATE DATABASE purser' > /dev/null
ledger="postgres://purser@127.0.0.1:$pgport/purser"
timeout 60 "$PURSER" ledger migrate "$ledger" > /dev/null
say "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pgport, ledger migrated"

# --- purser serve: the policy priced from the wheel's own price table -------------
prices="$venv/lib/python$pyver/site-packages/litellm/model_prices_and_context_window_backup.json"
mkdir -p "$tmp/policy"
sed "s/__CAP__/$CAP/" "$here/e2e/policy.yaml" > "$tmp/policy/policy.yaml"
cp "$prices" "$tmp/policy/litellm-prices.json"   # a copy, so no --allow-outside-root
cmp -s "$prices" "$tmp/policy/litellm-prices.json"
say "price table: a copy of litellm $LITELLM_VERSION's $(basename "$prices"), sha256 $(sha256sum < "$prices" | cut -c1-16)"
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077; echo "litellm decide,settle $token" > "$tmp/tokens"; echo "$token" > "$tmp/purser.token")
"$PURSER" keygen --key-id e2e --out "$tmp/decision.key" > /dev/null
pport=$(free_port)
"$PURSER" serve --policy "$tmp/policy" --ledger "$ledger" --listen "127.0.0.1:$pport" \
  --tokens-file "$tmp/tokens" --decision-log "$tmp/decisions" --decision-log-key "$tmp/decision.key" > "$tmp/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")

# --- the LiteLLM proxies ---------------------------------------------------------
master=sk-master-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
sed "s/__MASTER_KEY__/$master/" "$here/e2e/config.yaml" > "$tmp/config.yaml"
grep -v 'purser_litellm.hook.purser_hook' "$tmp/config.yaml" > "$tmp/config-nohook.yaml"
hook_config() {  # NAME FAIL_MODE SHADOW
  cat > "$tmp/hook-$1.yaml" <<YAML
url: http://127.0.0.1:$pport
token_file: $tmp/purser.token
timeout_ms: $TIMEOUT_MS
fail_mode: $2
shadow: $3
tags: {feature: feature}
models: {claude-haiku-4-5-broken: claude-haiku-4-5}
deployments:
  claude-sonnet-4-5: {us-east-1: claude-sonnet-4-5, eu-central-1: claude-sonnet-4-5-eu}
default_output_tokens: 1024
YAML
}
hook_config deny deny false
hook_config allow allow false
hook_config shadow allow true
start_proxy() {  # NAME CONFIG HOOK_CONFIG
  local port; port=$(free_port)
  (cd "$tmp" && exec env PURSER_LITELLM_CONFIG="$3" \
     PURSER_LITELLM_KEYS="$here/e2e/keys.yaml" LITELLM_LOG=ERROR NO_DOCS=True \
     "$venv/bin/litellm" --config "$2" --host 127.0.0.1 --port "$port" --num_workers 1 > "$tmp/proxy-$1.log" 2>&1) &
  pids+=("$!")
  echo "$1 http://127.0.0.1:$port $tmp/proxy-$1.log" >> "$tmp/proxies"
}
start_proxy A "$tmp/config.yaml" "$tmp/hook-deny.yaml"        # the hook, fail mode deny
start_proxy B "$tmp/config.yaml" "$tmp/hook-allow.yaml"       # the hook, fail mode allow
start_proxy C "$tmp/config-nohook.yaml" "$tmp/hook-deny.yaml" # no hook: the speed baseline
start_proxy D "$tmp/config.yaml" "$tmp/hook-shadow.yaml"      # the hook in shadow mode
echo "purser $serve_pid" > "$tmp/pids"
for pid in "${pids[@]:1}"; do echo "proxy $pid" >> "$tmp/pids"; done
say "purser serve (pid $serve_pid) on 127.0.0.1:$pport; LiteLLM proxies A B C D starting"

timeout 300 "$vpy" "$here/e2e/drive.py" --purser "$PURSER" --purser-url "http://127.0.0.1:$pport" \
  --purser-token-file "$tmp/purser.token" --serve-pid "$serve_pid" --decision-log "$tmp/decisions" --public-key "$tmp/decision.key.pub" \
  --proxies "$tmp/proxies" --pids "$tmp/pids" --cap "$CAP" --calls "$N" --timeout-ms "$TIMEOUT_MS" --results "$tmp/results.json" &
# In the background and waited for, so that a signal reaches the trap at once.
drive_pid=$!
pids=("$drive_pid" "${pids[@]}")
wait "$drive_pid"
say "done in $((SECONDS - start)) s"
"$vpy" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("litellm e2e: %d admitted of %d, cap $%s, settled $%s, LiteLLM cost $%s" % (r["admitted"], r["calls"], r["cap"], r["settled"], r["litellm_cost"]))' "$tmp/results.json"
