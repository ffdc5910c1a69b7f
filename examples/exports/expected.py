#!/usr/bin/env python3
"""Expected results for the fixtures in examples/exports/ (issue #21).

Reads every fixture and prints, per file, what `purser audit` should produce once
issue #21 is done: records, skipped rows, corrections, tokens by kind, cost (exact
and to the cent) and the attribution of each record to a day in the policy time
zone (America/New_York). It is a reference reading of the formats, written from the
sources named in the READMEs; the rules it applies are listed in README.md
("Rules the expected numbers assume") and repeated in comments below.

    python3 examples/exports/expected.py            # summary per file
    python3 examples/exports/expected.py --records  # and one line per record

Standard library only (Python 3.9+ for zoneinfo).
"""
import csv
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
NY = ZoneInfo("America/New_York")
NANO = Decimal("0.000000001")
CENT = Decimal("0.01")
# LiteLLM's price table, for pricing OpenAI usage (which carries no cost).
PRICE_TABLE = next(p for p in (HERE.parent.parent.parent / "shared/data/litellm-model-prices.json",
                               HERE.parent / "prices/litellm-model-prices.json") if p.exists())

# ---- aliases the expected numbers assume (issue #21 point 7) ----------------------
TEAM_ALIASES = {
    # LiteLLM team_id UUIDs (LiteLLM_TeamTable.team_id) -> policy team
    "0b6f3c57-8f0e-4d4a-9a51-6a0f2f6f1c01": "payments",
    "6c1d9a80-2a63-47f1-b0c4-0c9e6b3f5e12": "search",
    "9e2b7c44-51d8-4b0e-8d36-3f7a1c2e9d23": "support-bots",
    "d4a8e1f2-7b3c-4e59-a2d1-5c6b7e8f9a34": "growth",
    "3f9e2d1c-6b5a-4c7d-8e9f-0a1b2c3d4e45": "data-platform",
    "a7c3e5f1-9d2b-4f6e-8a0c-1b3d5f7e9c56": "research",
    # OpenAI project ids -> policy team
    "proj_Xq3vN8rT2kLm7PwY4sBd9GhJ": "search",
    "proj_7bKf2Rz9QwE4tYu1IoP3aSdF": "data-platform",
    "proj_Lm5Nb8Vc2Xz4As6Df9Gh1Jk3": "support-bots",
    "proj_Qw2Er4Ty6Ui8Op0As1Df3Gh5": "growth",
}
REGION_ALIASES = {"eastus2": "us-east-1", "swedencentral": "eu-central-1"}  # Azure -> policy region
ENV_ALIASES = {"prod": "production"}
# Policy models and their aliases (policies/models/*.yaml) plus the one alias the
# fixtures need that the shipped policy lacks (the Bedrock inference-profile id).
MODEL_ALIASES = {
    "claude-sonnet-4-5-20250929": "claude-sonnet-4-5", "claude-haiku-4-5-20251001": "claude-haiku-4-5",
    "claude-opus-4-5-20251101": "claude-opus-4-5", "gpt-5-2025-08-07": "gpt-5",
    "gpt-5-mini-2025-08-07": "gpt-5-mini", "gpt-4.1-2025-04-14": "gpt-4.1", "gpt-4.1-mini-2025-04-14": "gpt-4.1-mini",
    "gemini/gemini-2.5-flash": "gemini-2.5-flash",
    "eu.anthropic.claude-haiku-4-5-20251001-v1:0": "claude-haiku-4-5",  # NEW alias needed
}
POLICY_MODELS = {"claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-pro", "gemini-2.5-flash",
                 "gemini-2.5-flash-lite", "gpt-5", "gpt-4.1", "gpt-5-mini", "gpt-5-nano", "gpt-4.1-mini",
                 "gpt-4.1-nano", "o4-mini"}


def canon_model(name):
    if name is None:
        return None
    name = MODEL_ALIASES.get(name, name)
    return name if name in POLICY_MODELS else f"{name} (unknown-model)"


def nano(value):
    """A cost as Purser keeps it: exact decimal, rounded half away from zero to 1e-9."""
    return Decimal(value).quantize(NANO, rounding=ROUND_HALF_UP)


def utc(text):
    text = text.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # naive = UTC


def day_of(start, end=None):
    """Day rule (docs/importers.md, "Buckets: the day they count on"): an exact timestamp is
    its local date. A bucket [start, end) shorter than a day is the local date of its
    midpoint (the local day holding most of it). A bucket of a day or more is the date it
    starts on: its local date when it starts at local midnight, else its UTC date (OpenAI,
    Azure and AWS date their rows in UTC), so a whole day is never moved to another day."""
    if end is None or end <= start:
        return start.astimezone(NY).date().isoformat()
    if end - start < timedelta(days=1):
        return (start + (end - start) / 2).astimezone(NY).date().isoformat()
    local = start.astimezone(NY)
    if local.hour == local.minute == local.second == local.microsecond == 0:
        return local.date().isoformat()
    return start.astimezone(timezone.utc).date().isoformat()


def record(**kw):
    r = dict(team=None, env=None, model=None, region=None, start=None, end=None, cost=Decimal(0), alt_cost=None,
             input=0, cached=0, cache_write=0, output=0, note="")
    r.update(kw)
    return r


# ---- LiteLLM ------------------------------------------------------------------------
def litellm_rows(path):
    body = json.loads(path.read_text(), parse_float=Decimal)
    return body if isinstance(body, list) else body["data"]


def litellm(path):
    out, skipped = [], {}
    for row in litellm_rows(path):
        if "request_id" not in row:
            raise ValueError("summarized /spend/logs output (no request_id): not spend-log rows")
        spend = row["spend"]
        if row.get("status") == "failure" and spend <= 0:
            skipped["failed call with zero spend"] = skipped.get("failed call with zero spend", 0) + 1
            continue
        meta = row.get("metadata") or {}
        extra = meta.get("additional_usage_values") or {}
        details = extra.get("prompt_tokens_details") or {}
        read = extra.get("cache_read_input_tokens", details.get("cached_tokens")) or 0
        write = extra.get("cache_creation_input_tokens", details.get("cache_creation_tokens")) or 0
        prompt = row["prompt_tokens"]
        inp = prompt - read - write if prompt - read - write >= 0 else prompt - read
        model, provider = row["model"], row["custom_llm_provider"]
        if provider and model.startswith(provider + "/"):
            model = model[len(provider) + 1:]
        env = next((t.split(":", 1)[1] for t in row["request_tags"] if t.startswith(("env:", "environment:"))), None)
        out.append(record(id=row["request_id"], team=TEAM_ALIASES.get(row["team_id"], row["team_id"]), env=env,
                          model=canon_model(model), start=utc(row["startTime"]), cost=nano(spend), input=inp,
                          cached=read, cache_write=write, output=row["completion_tokens"],
                          note="status=failure (counted: spend > 0)" if row.get("status") == "failure" else ""))
    return out, skipped, []


def litellm_focus(path):
    """LiteLLM's FOCUS CSV, either generation. Model: Tags.model / litellm:model (else
    ResourceName) with the provider prefix dropped when it equals the provider. Tokens:
    the current exporter has none (ConsumedUnit Requests, 1 per row); the legacy one
    sums prompt+completion into ConsumedQuantity, so tokens come from its Tags."""
    out = []
    for row in csv.DictReader(path.open(newline="")):
        tags = json.loads(row["Tags"]) if row["Tags"] else {}
        provider = tags.get("custom_llm_provider") or tags.get("litellm:provider")
        model = tags.get("model") or tags.get("litellm:model") or row["ResourceName"]
        if provider and model.startswith(provider + "/"):
            model = model[len(provider) + 1:]
        team = TEAM_ALIASES.get(row["SubAccountId"], row["SubAccountName"])
        r = record(id=row["ResourceId"] or row["BillingAccountId"], team=team, model=canon_model(model),
                   start=utc(row["ChargePeriodStart"]), end=utc(row["ChargePeriodEnd"]), cost=nano(row["BilledCost"]))
        if "litellm:prompt_tokens" in tags:
            read = int(tags.get("litellm:cache_read_tokens") or 0)
            write = int(tags.get("litellm:cache_creation_tokens") or 0)
            r.update(input=int(tags["litellm:prompt_tokens"]) - read - write, cached=read, cache_write=write,
                     output=int(tags["litellm:completion_tokens"]),
                     note=f"requests={tags.get('litellm:api_requests')}")
        out.append(r)
    return out, {}, []


# ---- OpenAI -----------------------------------------------------------------------
PRICES = json.loads(PRICE_TABLE.read_text(), parse_float=Decimal)


def openai_price(model, kind, tier):
    """Per-token price from LiteLLM's table: `_batches` for batch, `_flex`/`_priority` for those tiers."""
    entry = PRICES[model]
    base = {"input": "input_cost_per_token", "cached": "cache_read_input_token_cost",
            "output": "output_cost_per_token"}[kind]
    suffix = {"batch": "_batches", "flex": "_flex", "priority": "_priority"}.get(tier, "")
    return entry.get(base + suffix, entry[base]) if suffix else entry[base]


def openai_usage(path):
    page = json.loads(path.read_text())
    out = []
    for bucket in page["data"]:
        start = datetime.fromtimestamp(bucket["start_time"], timezone.utc)
        end = datetime.fromtimestamp(bucket["end_time"], timezone.utc)
        for res in bucket["results"]:
            model = res["model"]
            if res["object"] == "organization.usage.embeddings.result":
                inp, cached, write, output, tier = res["input_tokens"], 0, 0, 0, "default"
            else:
                cached, write = res.get("input_cached_tokens", 0), res.get("input_cache_write_tokens", 0)
                inp, output = res["input_tokens"] - cached - write, res["output_tokens"]
                tier = "batch" if res.get("batch") else (res.get("service_tier") or "default")
            def priced(t):
                return nano((inp + write) * openai_price(model, "input", t) + cached * openai_price(model, "cached", t)
                            + output * openai_price(model, "output", t)) if output or cached else \
                    nano((inp + write) * openai_price(model, "input", t))
            out.append(record(id=f"{res['object'].split('.')[2]}:{model}:{tier}", team=TEAM_ALIASES[res["project_id"]],
                              model=canon_model(model), start=start, end=end, cost=priced(tier),
                              alt_cost=priced("default"), input=inp, cached=cached, cache_write=write, output=output,
                              note=f"tier={tier} requests={res['num_model_requests']}"))
    return out, {}, []


def openai_costs(path):
    """Each costs result is a record: cost = amount.value (a JSON number or a decimal
    string), project -> team, line item "MODEL, KIND" -> model and token kind; the
    tokens below are `quantity` when quantity_unit is "tokens" (optional reading)."""
    page = json.loads(path.read_text(), parse_float=Decimal)
    out = []
    for bucket in page["data"]:
        start = datetime.fromtimestamp(bucket["start_time"], timezone.utc)
        end = datetime.fromtimestamp(bucket["end_time"], timezone.utc)
        for res in bucket["results"]:
            item = res.get("line_item") or ""
            m = re.fullmatch(r"(?:(?P<surface>[^|]+) \| )?(?P<model>[^,|]+), (?P<kind>input|cached input|output)", item)
            r = record(id=item, team=TEAM_ALIASES.get(res.get("project_id")), start=start, end=end,
                       cost=nano(Decimal(str(res["amount"]["value"]))), note=f"line_item={item!r}")
            if m:
                kind = {"input": "input", "cached input": "cached", "output": "output"}[m["kind"]]
                r["model"] = canon_model(m["model"])
                if res.get("quantity_unit") == "tokens":
                    r[kind] = int(res["quantity"])
            out.append(r)
    return out, {}, []


# ---- FOCUS ------------------------------------------------------------------------
def unit_multiplier(unit):
    """'Tokens' 1, '1000 Tokens' 1000, '1K tokens' 1000, '1M Tokens' 1000000; None if not tokens."""
    m = re.fullmatch(r"\s*(?:(\d+)\s*([KkMm])?\s+)?[Tt]okens\s*", unit or "")
    if not m:
        return None
    n = int(m[1] or 1)
    return n * {"k": 1000, "m": 1000000}.get((m[2] or "").lower(), 1)


def direction(text):
    t = text.lower()
    if re.search(r"cache[ -_]?(write|creation)", t):
        return "cache_write"
    if re.search(r"\bcached\b|\bcd\b|cache[ -_]?read", t):
        return "cached"
    if re.search(r"\b(outp|outpt|opt|output)\b|output-tokens", t):
        return "output"
    return "input"


def azure_model(meter):
    """Model in an Azure OpenAI meter name: 'gpt 4.1 Inp regnl Tokens' -> gpt-4.1,
    'GPT 5 Mini outpt Glbl 1M Tokens' and '5 mini cd inp Gl 1M Tokens' -> gpt-5-mini."""
    m = re.match(r"(?:gpt[ -]?)?(4\.1|5|4o)(?:[ -](mini|nano))?\b", meter.strip().lower())
    return None if not m or "tokens" not in meter.lower() else "gpt-" + m[1] + (f"-{m[2]}" if m[2] else "")


def aws_model(usage_type):
    """'USE1-Claude4.5Sonnet-input-tokens-cross-region-global' -> claude-sonnet-4-5."""
    m = re.match(r"[A-Z]{2,4}\d?-Claude(\d+(?:\.\d+)?)([A-Za-z]+)-", usage_type or "")
    return None if not m else f"claude-{m[2].lower()}-{m[1].replace('.', '-')}"


def focus(path, flavor):
    out, skipped, corrections = [], {}, []
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8-sig")))
    for row in rows:
        category = row["ChargeCategory"]
        if category != "Usage":
            reason = f"ChargeCategory {category}" + (f"/{row['ChargeSubcategory']}" if row.get("ChargeSubcategory") else "")
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        tags = json.loads(row["Tags"]) if row.get("Tags") else {}
        usd = row["BillingCurrency"] == "USD"
        cost = row["BilledCost"] if usd else row["x_BilledCostInUsd"]        # a USD column when there is one
        alt = row["EffectiveCost"] if usd else row["x_EffectiveCostInUsd"]
        qty_text = row.get("ConsumedQuantity", row.get("UsageQuantity")) or ""
        unit = row.get("ConsumedUnit", row.get("UsageUnit")) or ""
        region = row.get("RegionId", row.get("Region")) or None
        r = record(id=row.get("x_SkuMeterName") or row.get("x_UsageType") or row["ChargeDescription"],
                   start=utc(row["ChargePeriodStart"]), end=utc(row["ChargePeriodEnd"]), cost=nano(cost),
                   alt_cost=nano(alt), region=REGION_ALIASES.get(region, region))
        if flavor == "azure":
            meter = row["x_SkuMeterName"]
            mult = int(Decimal(row["x_PricingBlockSize"])) if meter.lower().endswith("tokens") else None
            r.update(team=tags.get("team"), env=ENV_ALIASES.get(tags.get("env"), tags.get("env")),
                     model=canon_model(azure_model(meter)), note=f"EUR billed {row['BilledCost']} effective {row['EffectiveCost']}")
            words = meter
        elif flavor == "aws":
            mult = unit_multiplier(unit)
            r.update(team=tags.get("user:team"), env=tags.get("user:environment"),
                     model=canon_model(aws_model(row["x_UsageType"])))
            words = row["x_UsageType"]
        else:
            mult = unit_multiplier(unit)
            r.update(team=tags.get("team"), env=tags.get("environment") or tags.get("env"),
                     model=canon_model(row["SkuId"] or None))
            words = row["ChargeDescription"]
        if mult and qty_text:
            tokens = Decimal(qty_text) * mult
            assert tokens == tokens.to_integral_value(), (path.name, qty_text, unit)
            r[direction(words)] = int(tokens)
        if row.get("ChargeClass") == "Correction":
            corrections.append(r)
            continue
        out.append(r)
    return out, skipped, corrections


# ---- report -----------------------------------------------------------------------
FILES = [
    ("litellm/spend-logs-v1.json", litellm), ("litellm/spend-logs-v2-page1.json", litellm),
    ("litellm/spend-logs-v2-page2.json", litellm), ("litellm/spend-logs-v1-summarized.json", litellm),
    ("litellm/focus-export.csv", litellm_focus), ("litellm/focus-export-legacy.csv", litellm_focus),
    ("openai/usage-completions-page.json", openai_usage), ("openai/usage-embeddings-page.json", openai_usage),
    ("openai/costs-page.json", openai_costs),
    ("focus/focus-1.0-sample.csv", lambda p: focus(p, "generic")),
    ("focus/focus-1.0-preview.csv", lambda p: focus(p, "generic")),
    ("focus/azure-openai-focus.csv", lambda p: focus(p, "azure")),
    ("focus/aws-bedrock-focus.csv", lambda p: focus(p, "aws")),
]
KINDS = ("input", "cached", "cache_write", "output")


def money(x):
    return f"{x.quantize(CENT, rounding=ROUND_HALF_UP)} ({x.normalize():f})"


def main(show_records):
    for name, reader in FILES:
        print(f"== {name}")
        try:
            records, skipped, corrections = reader(HERE / name)
        except ValueError as e:
            print(f"   rejected as a whole: {e}\n")
            continue
        total = sum((r["cost"] for r in records), Decimal(0))
        print(f"   records {len(records)}; skipped {sum(skipped.values())} {skipped or ''}".rstrip())
        print("   tokens " + ", ".join(f"{k} {sum(r[k] for r in records):,}" for k in KINDS))
        print(f"   cost {money(total)}")
        if any(r["alt_cost"] is not None for r in records):
            alt = sum((r["alt_cost"] if r["alt_cost"] is not None else r["cost"] for r in records), Decimal(0))
            label = "list price" if name.startswith("openai/") else "EffectiveCost"
            print(f"   cost with {label}: {money(alt)}")
        if corrections:
            print(f"   corrections {len(corrections)}: {money(sum((c['cost'] for c in corrections), Decimal(0)))}"
                  f" for charge days {sorted({day_of(c['start'], c['end']) for c in corrections})}")
        teams = {}
        for r in records:
            teams[r["team"]] = teams.get(r["team"], Decimal(0)) + r["cost"]
        print("   teams: " + "; ".join(f"{t} ${c.quantize(CENT, rounding=ROUND_HALF_UP)}" for t, c in sorted(teams.items(), key=str)))
        days = {}
        for r in records:
            d = day_of(r["start"], r["end"])
            n, c = days.get(d, (0, Decimal(0)))
            days[d] = (n + 1, c + r["cost"])
        print("   days (America/New_York): " + "; ".join(f"{d} {n} rec ${c.quantize(CENT, rounding=ROUND_HALF_UP)}"
                                                     for d, (n, c) in sorted(days.items())))
        shifted = [r for r in records if r["end"] and r["start"].astimezone(NY).date().isoformat() != day_of(r["start"], r["end"])]
        if shifted:
            print(f"   {len(shifted)} bucket(s) would land on the previous local day if placed at their UTC start")
        if show_records:
            for r in records + corrections:
                flag = " CORRECTION" if r in corrections else ""
                print(f"     {day_of(r['start'], r['end'])} {r['team']!s:13} {r['env']!s:10} {r['model']!s:32} "
                      f"{r['region']!s:12} in {r['input']:>10,} cached {r['cached']:>10,} write {r['cache_write']:>8,} "
                      f"out {r['output']:>9,} ${r['cost']:f}{flag} {r['note']}")
        print()


if __name__ == "__main__":
    main("--records" in sys.argv)
