"""The checks of `purser audit` written as SQL in DuckDB, over the same JSON Lines.

Test tooling only (never part of the product). The policy is read with PyYAML
and turned into small tables (which model is approved where, team caps,
rules' thresholds); DuckDB then reads the JSON Lines and evaluates every
check in SQL, including budgets as running sums per calendar window in the
policy's time zone. Violation counts per rule are compared with Purser's.
"""
import fnmatch
import glob
import json
import os
import statistics
import subprocess
import sys
import time

import duckdb
import yaml

purser, policies, usage = sys.argv[1], sys.argv[2], sys.argv[3]

docs = []
for path in sorted(glob.glob(policies + "/**/*.yaml", recursive=True)):
    if path.endswith(".test.yaml"):
        continue
    docs.extend(d for d in yaml.safe_load_all(open(path)) if d)
models, envs, teams, budgets, rules, regions = {}, {}, {}, [], [], {}
settings = {}
for d in docs:
    models.update(d.get("models", {}) or {})
    envs.update(d.get("environments", {}) or {})
    teams.update(d.get("teams", {}) or {})
    budgets += d.get("budgets", []) or []
    rules += d.get("rules", []) or []
    regions.update(d.get("regions", {}) or {})
    settings.update(d.get("settings", {}) or {})
tz = settings.get("timezone", "UTC")
alias = {a: name for name, m in models.items() for a in m.get("aliases", [])}

def matches(pattern, name):
    return fnmatch.fnmatchcase(name, pattern) or any(fnmatch.fnmatchcase(a, pattern) for a in models[name].get("aliases", []))

approved = []
for env, e in envs.items():
    e = e or {}
    for name, m in models.items():
        ok = (e.get("models") is None or any(matches(p, name) for p in e["models"]))
        ok = ok and (e.get("tiers") is None or m["tier"] in e["tiers"])
        ok = ok and not any(matches(p, name) for p in e.get("exclude", []))
        if ok:
            approved.append((env, name))
team_models = [(t, name) for t, d in teams.items() if (d or {}).get("models") for name in models if any(matches(p, name) for p in d["models"])]
team_envs = [(t, env) for t, d in teams.items() if (d or {}).get("environments") for env in d["environments"]]
team_regions = [(t, r) for t, d in teams.items() if (d or {}).get("regions") for r in d["regions"]]
env_regions = [(env, r) for env, e in envs.items() if (e or {}).get("regions") for r in e["regions"]]
model_regions = [(name, r) for name, m in models.items() if m.get("regions") for r in m["regions"]]
caps = [(t, (d or {}).get("budget", {}).get("day"), (d or {}).get("budget", {}).get("month"), (d or {}).get("max_request_cost")) for t, d in teams.items()]
prices = [(name, m["price"]["input"], m["price"]["output"], m["price"].get("cached_input", m["price"]["input"])) for name, m in models.items()]

def run_duckdb():
    """One run in a fresh in-memory database: tables from the policy, the log read, every check."""
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    def table(name, columns, rows):
        con.execute(f"CREATE TABLE {name} ({columns})")
        if rows:
            con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)

    start = time.perf_counter()
    table("approved", "environment VARCHAR, model VARCHAR", approved)
    table("team_models", "team VARCHAR, model VARCHAR", team_models)
    table("team_envs", "team VARCHAR, environment VARCHAR", team_envs)
    table("team_regions", "team VARCHAR, region VARCHAR", team_regions)
    table("env_regions", "environment VARCHAR, region VARCHAR", env_regions)
    table("model_regions", "model VARCHAR, region VARCHAR", model_regions)
    table("caps", "team VARCHAR, day_cap DECIMAL(18,9), month_cap DECIMAL(18,9), max_cost DECIMAL(18,9)", caps)
    table("aliases", "alias VARCHAR, model VARCHAR", list(alias.items()) or [("", "")])
    table("allowed", "region VARCHAR", [(r,) for r in regions.get("allowed", [])])
    con.execute(f"""
    CREATE TABLE r AS
    SELECT row_number() OVER () AS line, id, CAST(timestamp AS TIMESTAMPTZ) AS ts, team, environment,
           coalesce((SELECT model FROM aliases WHERE alias = j.model), j.model) AS model, region,
           CAST(cost AS DECIMAL(18,9)) AS cost,
           coalesce(usage.input_tokens, 0) AS input_tokens, coalesce(usage.output_tokens, 0) AS output_tokens,
           tags.workload AS workload, tags.data_class AS data_class, tags.ticket AS ticket
    FROM read_json('{usage}', format = 'newline_delimited',
         columns = {{id: 'VARCHAR', timestamp: 'VARCHAR', team: 'VARCHAR', environment: 'VARCHAR', model: 'VARCHAR',
                    region: 'VARCHAR', cost: 'DOUBLE', usage: 'STRUCT(input_tokens BIGINT, output_tokens BIGINT)',
                    tags: 'STRUCT(workload VARCHAR, data_class VARCHAR, ticket VARCHAR, feature VARCHAR)'}}) j
    """)
    checks = {
        "unknown-team": "SELECT count(*) FROM r WHERE team NOT IN (SELECT team FROM caps)",
        "unknown-model": f"SELECT count(*) FROM r WHERE model NOT IN ({', '.join(repr(m) for m in models)})",
        "environment-model": """SELECT count(*) FROM r WHERE environment IN (SELECT DISTINCT environment FROM approved)
            AND model IN (SELECT DISTINCT model FROM approved UNION SELECT model FROM model_regions)
            AND (environment, model) NOT IN (SELECT environment, model FROM approved)""",
        "team-environment": """SELECT count(*) FROM r WHERE team IN (SELECT team FROM team_envs)
            AND environment IN (SELECT DISTINCT environment FROM approved) AND (team, environment) NOT IN (SELECT team, environment FROM team_envs)""",
        "team-model": """SELECT count(*) FROM r WHERE team IN (SELECT team FROM team_models)
            AND model IN (SELECT model FROM model_regions) AND (team, model) NOT IN (SELECT team, model FROM team_models)""",
        "model-region": """SELECT count(*) FROM r WHERE region IS NOT NULL AND model IN (SELECT model FROM model_regions)
            AND (model, region) NOT IN (SELECT model, region FROM model_regions)""",
        "max-request-cost": "SELECT count(*) FROM r JOIN caps USING (team) WHERE max_cost IS NOT NULL AND cost > max_cost",
        "team-day-caps": f"""SELECT count(*) FROM (
            SELECT r.team, cost, day_cap, sum(cost) OVER (PARTITION BY r.team, date_trunc('day', timezone('{tz}', ts)) ORDER BY ts, line
                   ROWS UNBOUNDED PRECEDING) AS running FROM r JOIN caps USING (team)) WHERE running > day_cap""",
        "team-month-caps": f"""SELECT count(*) FROM (
            SELECT r.team, cost, month_cap, sum(cost) OVER (PARTITION BY r.team, date_trunc('month', timezone('{tz}', ts)) ORDER BY ts, line
                   ROWS UNBOUNDED PRECEDING) AS running FROM r JOIN caps USING (team)) WHERE running > month_cap""",
        "dev-prompt-size": "SELECT count(*) FROM r WHERE environment = 'dev' AND input_tokens > 100000 AND ticket IS NULL",
        "no-customer-data-outside-prod": "SELECT count(*) FROM r WHERE environment IN ('qa', 'dev') AND data_class IN ('pii', 'restricted')",
        "staging-huge-output": "SELECT count(*) FROM r WHERE environment = 'staging' AND output_tokens > 32000",
        "production-request-cost": "SELECT count(*) FROM r WHERE environment = 'production' AND cost > 2.50",
        "batch-no-frontier-overnight": f"""SELECT count(*) FROM r WHERE workload = 'batch'
            AND model IN ({', '.join(repr(m) for m, d in models.items() if d['tier'] == 'frontier')})
            AND hour(timezone('{tz}', ts)) < 6""",
    }
    counts = {name: con.execute(sql).fetchone()[0] for name, sql in checks.items()}
    seconds = time.perf_counter() - start
    con.close()
    return counts, seconds


def run_purser(report_path, form):
    """One `purser audit` writing its report in `form` to a file (what a user keeps)."""
    start = time.perf_counter()
    subprocess.run([purser, "audit", "--policy", policies, "--format", form, "--fail-on", "never", "-o", report_path, usage],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


# Interleaved, so that both sides see the same minutes of this noisy machine; medians of RUNS.
# The table report (every check and budget, the first violations listed) and JSON lines (every
# violation written out); the full JSON report once more, at the end, for the counts per rule.
RUNS = 3
FORMS = ["table", "jsonl"]
folder = os.path.dirname(os.path.abspath(usage))
report_path = os.path.join(folder, "purser-report.json")
duck_times, purser_times = [], {form: [] for form in FORMS}
for _ in range(RUNS):
    duck, seconds = run_duckdb()
    duck_times.append(seconds)
    for form in FORMS:
        purser_times[form].append(run_purser(os.path.join(folder, "purser-report." + form), form))
jsonl_bytes = os.path.getsize(os.path.join(folder, "purser-report.jsonl"))
for form in FORMS:
    os.remove(os.path.join(folder, "purser-report." + form))
run_purser(report_path, "json")
duck_seconds = statistics.median(duck_times)
with open(report_path) as f:
    report = json.load(f)
by_rule = {t["name"]: t["records"] for t in report["summary"]["by_rule"]}
day = sum(v for k, v in by_rule.items() if k.startswith("team.") and k.endswith(".day"))
month = sum(v for k, v in by_rule.items() if k.startswith("team.") and k.endswith(".month"))
records = report["summary"]["records"]
print(f"DuckDB {duckdb.__version__} (2 threads), {len(duck)} checks incl. JSON parsing: median {duck_seconds:.2f} s of {RUNS} "
      f"({', '.join(f'{t:.2f}' for t in duck_times)})")
violations = report["summary"]["violations"]
violating = report["summary"]["violating_records"]
print(f"{records} records, {violating / records:.0%} with a deny violation, {violations / records:.2f} violations per record")
for form in FORMS:
    seconds = statistics.median(purser_times[form])
    detail = f", {jsonl_bytes / 1e6:.0f} MB" if form == "jsonl" else ""
    print(f"purser audit --format {form} -o FILE (every check, every budget{detail}): median {seconds:.2f} s of {RUNS} "
          f"({', '.join(f'{t:.2f}' for t in purser_times[form])}) -> {records / seconds:,.0f} records/s, "
          f"{duck_seconds / seconds:.2f}x DuckDB's speed")
print("violations per check (DuckDB vs Purser):")
for name, count in duck.items():
    theirs = day if name == "team-day-caps" else month if name == "team-month-caps" else by_rule.get(name, 0)
    flag = "" if count == theirs else "   <- differs"
    print(f"  {name:32s} {count:>8d} {theirs:>8d}{flag}")
