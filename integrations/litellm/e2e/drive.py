"""The e2e's driver (e2e.sh starts it with the processes running): calls the
LiteLLM proxies, checks what Purser decided, settled and logged, and writes the
figures of the final line. Every call has a timeout; every wait is bounded."""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal

import httpx

KEYS = {
    "race": "sk-e2e-race-000000000000000001",
    "qa": "sk-e2e-qa-0000000000000000001",
    "eu": "sk-e2e-eu-0000000000000000001",
    "shadow": "sk-e2e-shadow-00000000000000001",
    "stream": "sk-e2e-stream-00000000000000001",
    "perf": "sk-e2e-perf-000000000000000001",
}
failures: list = []


def say(msg: str) -> None:
    print(f"  {msg}", flush=True)


def check(ok: bool, what: str) -> bool:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        failures.append(what)
    return ok


def chat(url: str, key: str, model: str, content: str = "Say something short.", timeout: float = 10.0,
         client: httpx.Client | None = None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    c = client or httpx
    t0 = time.perf_counter()
    r = c.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)
    return r, time.perf_counter() - t0


def text(r) -> str:
    try:
        return r.json()["choices"][0]["message"]["content"]
    except Exception:
        return ""


def error(r) -> dict:
    try:
        e = r.json().get("detail") or r.json().get("error") or {}
        if isinstance(e, dict) and isinstance(e.get("error"), dict):
            e = e["error"]
        if isinstance(e, dict) and isinstance(e.get("message"), str) and e["message"].startswith("{"):
            pass
        return e if isinstance(e, dict) else {"message": str(e)}
    except Exception:
        return {"message": r.text[:300]}


class Purser:
    def __init__(self, url: str, token: str):
        self.url, self.headers = url, {"Authorization": f"Bearer {token}"}

    def counters(self, team: str) -> list:
        r = httpx.get(self.url + "/v1/budgets", params={"team": team}, headers=self.headers, timeout=5)
        r.raise_for_status()
        return r.json()["counters"]

    def counter(self, budget: str, team: str | None = None, key: str | None = None) -> dict:
        r = httpx.get(self.url + "/v1/budgets", params={"budget": budget, **({"team": team} if team else {})},
                      headers=self.headers, timeout=5)
        r.raise_for_status()
        for c in r.json()["counters"]:
            if c["unit"] == "usd" and (key is None or c["key"] == key):
                return c
        return {"spent": 0, "reserved": 0, "limit": None}

    def settled(self, budget: str, team: str | None = None, key: str | None = None, deadline: float = 10.0) -> dict:
        """The counter once nothing is reserved under it any more (the proxies settle after answering)."""
        end = time.monotonic() + deadline
        while True:
            c = self.counter(budget, team, key)
            if c["reserved"] == 0 or time.monotonic() > end:
                return c
            time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_ready(proxies: dict, purser_url: str, pids: list, deadline: float = 150.0) -> None:
    end = time.monotonic() + deadline
    pending = dict(proxies)
    pending["purser"] = purser_url
    while pending and time.monotonic() < end:
        for name, url in list(pending.items()):
            try:
                path = "/healthz" if name == "purser" else "/health/liveliness"
                if httpx.get(url + path, timeout=1).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        dead = [f"{what} (pid {pid})" for what, pid in pids if not alive(pid)]
        if dead:
            raise SystemExit(f"exited before it was ready: {', '.join(dead)}")
        time.sleep(0.25)
    if pending:
        raise SystemExit(f"not ready after {deadline:.0f} s: {', '.join(pending)}")


def percentile(values: list, p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--purser", required=True)
    ap.add_argument("--purser-url", required=True)
    ap.add_argument("--purser-token-file", required=True)
    ap.add_argument("--serve-pid", type=int, required=True)
    ap.add_argument("--decision-log", required=True)
    ap.add_argument("--proxies", required=True)
    ap.add_argument("--pids", required=True)
    ap.add_argument("--public-key", required=True)
    ap.add_argument("--cap", required=True)
    ap.add_argument("--calls", type=int, required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--timeout-ms", type=float, required=True)
    ap.add_argument("--speed-calls", type=int, default=int(os.environ.get("PURSER_E2E_SPEED_CALLS", "300")))
    args = ap.parse_args()

    proxies, logs = {}, {}
    for line in open(args.proxies):
        name, url, log = line.split()
        proxies[name], logs[name] = url, log
    purser = Purser(args.purser_url, open(args.purser_token_file).read().strip())
    t0 = time.monotonic()
    pids = [(w, int(p)) for w, p in (line.split() for line in open(args.pids))]
    wait_ready(proxies, args.purser_url, pids)
    say(f"proxies and purser serve ready in {time.monotonic() - t0:.1f} s")
    A, B, C, D = proxies["A"], proxies["B"], proxies["C"], proxies["D"]
    results: dict = {"calls": args.calls, "cap": args.cap}

    print("routing, access and identity", flush=True)
    r, _ = chat(A, KEYS["qa"], "claude-opus-4-5")
    check(r.status_code == 200 and text(r) == "claude-sonnet-4-5 us-east-1 answered"
          and r.headers.get("x-litellm-model-group") == "claude-sonnet-4-5",
          f"QA asks claude-opus-4-5 and the mock provider of its fallback answers: {r.status_code} {text(r)!r}")
    r, _ = chat(A, KEYS["eu"], "claude-sonnet-4-5")
    check(r.status_code == 200 and text(r) == "claude-sonnet-4-5 eu-central-1 answered",
          f"eu-team asks claude-sonnet-4-5 (the us-east-1 deployment) and gets the eu-central-1 deployment: {r.status_code} {text(r)!r}")
    r, _ = chat(A, KEYS["stream"], "claude-sonnet-4-5",
                metadata={"purser_environment": "qa", "team_id": "race", "purser": {"id": "d-00000000000000000000000001"}},
                user="svc-race")
    e = error(r)
    check(r.status_code == 403 and "purser:" in json.dumps(e) and "policy.yaml:" in json.dumps(e),
          f"a model the team may not use is 403 with Purser's message and rule source, whatever the body claims: {r.status_code} {json.dumps(e)[:240]}")

    r, _ = chat(A, "sk-e2e-not-a-key-0000000000001", "claude-haiku-4-5")
    check(r.status_code == 401, f"a key the keys file does not list is refused by custom_auth: {r.status_code}")

    print("streaming settles with the final chunk's usage; a failed call releases", flush=True)
    usage = None
    with httpx.stream("POST", A + "/v1/chat/completions", timeout=10,
                      headers={"Authorization": f"Bearer {KEYS['stream']}"},
                      json={"model": "claude-haiku-4-5", "stream": True, "stream_options": {"include_usage": True},
                            "messages": [{"role": "user", "content": "Stream a short answer, please."}]}) as s:
        stream_status = s.status_code
        for line in s.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
    c = purser.settled("team.stream-team.day", "stream-team")
    expected = None
    if usage:
        expected = Decimal(usage["prompt_tokens"]) * Decimal("0.000001") + Decimal(usage["completion_tokens"]) * Decimal("0.000005")
    check(stream_status == 200 and expected is not None and Decimal(str(c["spent"])) == expected,
          f"a streamed call ({usage and usage['prompt_tokens']} in, {usage and usage['completion_tokens']} out in its final chunk) settled ${c['spent']}, expected ${expected}")
    feature = purser.counter("feature-day", key="chat")
    check(Decimal(str(feature["spent"])) == Decimal(str(c["spent"])),
          f"the key's metadata 'feature' reached Purser as tag feature=chat (feature-day counter spent ${feature['spent']})")
    for route, body in (("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 100,
                                           "messages": [{"role": "user", "content": "Hello through Anthropic's route"}]}),
                        ("/v1/responses", {"model": "claude-haiku-4-5", "input": "Hello through the Responses route"}),
                        ("/v1/completions", {"model": "claude-haiku-4-5", "prompt": "Hello through the text route"})):
        before = Decimal(str(purser.settled("team.stream-team.day", "stream-team")["spent"]))
        r = httpx.post(A + route, json=body, headers={"Authorization": f"Bearer {KEYS['stream']}"}, timeout=10)
        after = purser.settled("team.stream-team.day", "stream-team")
        cost = r.headers.get("x-litellm-response-cost")
        delta = Decimal(str(after["spent"])) - before
        check(r.status_code == 200 and cost is not None and abs(delta - Decimal(cost)) <= Decimal("0.000000001")
              and after["reserved"] == 0,
              f"{route} is authorized and settled too: Purser ${delta}, LiteLLM ${cost}")
    c = purser.counter("team.stream-team.day", "stream-team")
    r, _ = chat(A, KEYS["stream"], "claude-haiku-4-5-broken")
    c2 = purser.settled("team.stream-team.day", "stream-team")
    check(r.status_code >= 500 and c2["reserved"] == 0 and c2["spent"] == c["spent"],
          f"a call the provider fails ({r.status_code}) is released: reserved {c2['reserved']}, spent unchanged")

    print(f"race: {args.calls} concurrent calls through proxies A and B, one team, cap ${args.cap}", flush=True)
    outcomes = []

    def one(i: int):
        url = A if i % 2 == 0 else B
        try:
            r, dt = chat(url, KEYS["race"], "claude-haiku-4-5", f"Race call {i}: answer briefly.", timeout=15, max_tokens=200)
            return ("AB"[i % 2], r.status_code, r.headers.get("x-litellm-response-cost"), error(r) if r.status_code != 200 else None,
                    dt, r.headers.get("x-purser-decision"))
        except httpx.HTTPError as e:
            return ("AB"[i % 2], 0, None, {"message": repr(e)}, 0.0, None)

    unavailable_before = sum(open(logs[p]).read().count("purser unavailable") for p in "AB")
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(max_workers=8) as pool:  # 4 in flight per proxy
        outcomes = list(pool.map(one, range(args.calls), timeout=120))
    race_s = time.monotonic() - t0
    # Admitted by Purser; let through by B's fail mode (allow) or refused by A's (deny) when an
    # authorize took longer than the hook's timeout: configured behaviour, counted and bounded.
    admitted = [o for o in outcomes if o[1] == 200 and o[5] == "allow"]
    fail_open = [o for o in outcomes if o[1] == 200 and o[5] == "unavailable"]
    fail_closed = [o for o in outcomes if o[1] == 503 and "unavailable" in json.dumps(o[3])]
    denied = [o for o in outcomes if o[1] == 429]
    other = [o for o in outcomes if o not in admitted and o not in fail_open and o not in fail_closed and o not in denied]
    latencies = sorted(o[4] * 1000 for o in outcomes)
    c = purser.settled("team.race.day", "race")
    settled = Decimal(str(c["spent"]))
    litellm_cost = sum((Decimal(o[2]) for o in admitted if o[2] is not None), Decimal(0))
    results["fail_open"] = len(fail_open)
    cap = Decimal(args.cap)
    costs = [Decimal(o[2]) for o in admitted if o[2] is not None]
    say(f"{len(admitted)} admitted (A {sum(o[0] == 'A' for o in admitted)}, B {sum(o[0] == 'B' for o in admitted)}), "
        f"{len(denied)} denied 429, {len(other)} other, in {race_s:.1f} s")
    unavailable = sum(open(logs[p]).read().count("purser unavailable") for p in "AB") - unavailable_before
    say(f"race latency through the proxies: p50 {statistics.median(latencies):.1f} ms, max {latencies[-1]:.1f} ms; "
        f"authorize past the {args.timeout_ms:g} ms timeout: {len(fail_closed)} refused by A (fail closed), "
        f"{len(fail_open)} let through by B (fail open, not counted below)")
    check(unavailable == len(fail_open) + len(fail_closed) <= max(2, args.calls // 20),
          f"calls that met the fail mode are the ones the proxies logged ({unavailable}), at most 5%")
    check(not other, f"every call was admitted, denied 429 or met the fail mode: others {[(o[1], o[3]) for o in other[:3]]}")
    check(len(admitted) >= 1 and len(denied) >= 1, "the cap admitted some calls and denied the rest")
    check(all("team.race.day" in json.dumps(o[3]) for o in denied),
          f"every 429 names the budget: {json.dumps(denied[0][3])[:200] if denied else None}")
    check(settled <= cap and c["reserved"] == 0, f"settled ${settled} <= cap ${cap}, nothing left reserved")
    check(len(costs) == len(admitted) and costs and len(admitted) <= int(cap / min(costs)),
          f"admitted {len(admitted)} <= cap / cheapest call = {int(cap / min(costs)) if costs else None}")
    check(abs(settled - litellm_cost) <= Decimal("0.000000001") * len(admitted),
          f"Purser settled ${settled}, LiteLLM's response_cost sums to ${litellm_cost} (equal to 1e-9 per call)")
    results.update(admitted=len(admitted), settled=str(settled), litellm_cost=str(litellm_cost))

    print("shadow mode (proxy D): every call goes through unchanged", flush=True)
    shadow_n = 10
    shadow = [chat(D, KEYS["shadow"], "claude-haiku-4-5", f"shadow {i}")[0] for i in range(shadow_n)]
    check(all(r.status_code == 200 and r.headers.get("x-purser-shadow") == "would-deny" for r in shadow),
          f"{shadow_n} calls over shadow-team's cap all answered 200, marked would-deny: {[r.status_code for r in shadow]}")
    r, _ = chat(D, KEYS["qa"], "claude-opus-4-5")
    check(r.status_code == 200 and text(r) == "claude-opus-4-5 us-east-1 answered" and r.headers.get("x-purser-shadow") == "would-reroute",
          f"QA's frontier call is not rerouted in shadow mode, marked would-reroute: {text(r)!r}")
    log_d = open(logs["D"]).read()
    check(log_d.count('"shadow: would deny"') == shadow_n and log_d.count('"shadow: would reroute"') == 1,
          "proxy D logged and counted each would-deny and would-reroute")

    print(f"speed: {args.speed_calls} sequential calls each, interleaved: C (no hook); A (hook) for a team no budget counts "
          f"(authorize only); A for a team with a budget (authorize reserves in PostgreSQL, settle after the answer)", flush=True)
    series = {"no hook": (C, "perf"), "hook, no budget": (A, "qa"), "hook, budget": (A, "perf")}
    times: dict = {name: [] for name in series}
    with httpx.Client() as client:
        for _ in range(20):
            for url, key in series.values():
                chat(url, KEYS[key], "claude-haiku-4-5", client=client)
        order = list(series)
        for i in range(args.speed_calls):
            for name in order[i % 3:] + order[:i % 3]:
                url, key = series[name]
                r, dt = chat(url, KEYS[key], "claude-haiku-4-5", client=client)
                if r.status_code != 200:
                    check(False, f"speed call ({name}) answered {r.status_code}")
                    break
                times[name].append(dt * 1000)
    fig = {name: (statistics.median(v), percentile(v, 99)) for name, v in times.items()}
    base = fig["no hook"]
    for name, (p50, p99) in fig.items():
        added = "" if name == "no hook" else f"   added: p50 {p50 - base[0]:+.2f} ms, p99 {p99 - base[1]:+.2f} ms"
        say(f"{name + ':':17s} p50 {p50:6.2f} ms, p99 {p99:6.2f} ms{added}")
    say(f"({os.cpu_count()} cores, shared with everything else this test runs)")
    results["speed"] = fig
    c = purser.settled("team.perf-team.day", "perf-team")
    check(c["spent"] > 0 and c["reserved"] == 0, f"the hooked speed calls reserved and settled (perf-team spent ${c['spent']})")

    timeout = args.timeout_ms / 1000.0
    print(f"purser serve stopped: the fail modes hold and no call waits past the hook's timeout ({args.timeout_ms:g} ms)", flush=True)
    before_a, before_b = open(logs["A"]).read().count("fail_mode deny"), open(logs["B"]).read().count("fail_mode allow")
    os.kill(args.serve_pid, signal.SIGTERM)
    end = time.monotonic() + 15
    while time.monotonic() < end and alive(args.serve_pid):
        time.sleep(0.05)
    check(not alive(args.serve_pid), "purser serve stopped on SIGTERM")
    port = int(args.purser_url.rsplit(":", 1)[1])
    for label, listener in (("down (connection refused)", None), ("hanging (accepts, never answers)", "blackhole")):
        sock = None
        if listener:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(64)
        with cf.ThreadPoolExecutor(max_workers=10) as pool:
            deny = list(pool.map(lambda _: chat(A, KEYS["qa"], "claude-haiku-4-5", timeout=timeout + 5), range(5)))
            allow = list(pool.map(lambda _: chat(B, KEYS["qa"], "claude-haiku-4-5", timeout=timeout + 5), range(5)))
        worst = max(dt for _, dt in deny + allow)
        check(all(r.status_code == 503 and "unavailable" in json.dumps(error(r)) for r, _ in deny),
              f"sidecar {label}: fail mode deny answers 503: {[r.status_code for r, _ in deny]}")
        check(all(r.status_code == 200 for r, _ in allow),
              f"sidecar {label}: fail mode allow lets the call through: {[r.status_code for r, _ in allow]}")
        check(worst < timeout + 1.5, f"sidecar {label}: the slowest call took {worst * 1000:.0f} ms "
              f"(timeout {args.timeout_ms:g} ms; the proxy's own time on a loaded machine allowed for, up to 1.5 s)")
        if listener:
            check(min(dt for _, dt in deny) >= timeout * 0.95, f"sidecar {label}: the hook waited its timeout ({min(dt for _, dt in deny) * 1000:.0f} ms)")
            sock.close()
    log_a, log_b = open(logs["A"]).read(), open(logs["B"]).read()
    check(log_a.count("fail_mode deny") - before_a == 10 and log_b.count("fail_mode allow") - before_b == 10,
          "A logged 10 calls denied and B 10 calls allowed while the sidecar was unavailable")

    print("the decision log", flush=True)
    v = subprocess.run([args.purser, "verify-log", "--public-key", args.public_key, args.decision_log], capture_output=True, text=True, timeout=60)
    check(v.returncode == 0, f"purser verify-log: exit {v.returncode} {(v.stdout + v.stderr).strip().splitlines()[-1:]}")
    would_deny = 0
    for name in sorted(os.listdir(args.decision_log)):
        path = os.path.join(args.decision_log, name)
        if not os.path.isfile(path):
            continue
        for line in open(path, errors="replace"):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == "authorize":
                d = ev["data"]
                if d["request"].get("team") == "shadow-team" and d["decision"]["decision"] == "deny":
                    if any(x["rule"] == "team.shadow-team.day" for x in d["decision"]["violations"]):
                        would_deny += 1
    check(would_deny == shadow_n, f"the decision log holds the {would_deny} shadow-team calls Purser would have denied (team.shadow-team.day)")

    json.dump(results, open(args.results, "w"))
    if failures:
        print(f"{len(failures)} check(s) failed:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
