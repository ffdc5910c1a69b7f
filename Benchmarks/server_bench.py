"""`purser serve` against an empty Hummingbird server, in one run (Benchmarks/run.sh server).

Each server runs alone on loopback; wrk (one thread, 32 connections) POSTs one realistic
request for 10 s after 2 s of warm-up, three rounds alternating the two servers, and the
medians are compared. Then hey, rate-limited, sends half of the empty server's median rate to
`purser serve` and reports its latency percentiles. The CPU the load generator used is
reported as a share of the machine's cores, since it competes with the server for them.

    python3 server_bench.py PURSER EMPTY_SERVER FIXTURE_DIR
"""
import json, os, re, signal, statistics, subprocess, sys, tempfile, time

purser, empty, fixture = sys.argv[1], sys.argv[2], sys.argv[3]
lua = os.path.join(fixture, "authorize.lua")
body = re.search(r"wrk.body = '(.*)'", open(lua).read()).group(1)
cores = os.cpu_count() or 1
ticks = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def start(kind, port):
    log = tempfile.TemporaryFile()
    if kind == "empty":
        process = subprocess.Popen([empty, str(port)], stdout=log, stderr=log)
    else:
        process = subprocess.Popen([purser, "serve", "--policy", fixture, "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    for _ in range(200):
        try:
            subprocess.run(["curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{port}/healthz" if kind == "purser" else f"http://127.0.0.1:{port}/"],
                           check=False, capture_output=True, timeout=1)
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", body, f"http://127.0.0.1:{port}/v1/authorize"],
                                 capture_output=True, text=True, timeout=2).stdout
            if out == "200":
                return process
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.05)
    process.kill()
    log.seek(0)
    raise SystemExit(f"{kind} server did not start: {log.read()[-2000:]}")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wrk(port, seconds=10):
    subprocess.run(["wrk", "-t1", "-c32", "-d2s", "-s", lua, f"http://127.0.0.1:{port}"], capture_output=True)
    timed = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S", "wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-s", lua,
                            f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    out = timed.stdout + timed.stderr
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    elapsed, user, system = map(float, re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+)", out).groups())
    latency = {p: parse_latency(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}
    return {"rate": rate, "errors": int(errors.group(1)) if errors else 0, "load_cpu": (user + system) / (elapsed * cores),
            "p50_ms": latency["50"], "p99_ms": latency["99"]}


def parse_latency(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


results = {"empty": [], "purser": []}
server_cpu = {"empty": [], "purser": []}
port = 18400
for round in range(3):
    for kind in ("empty", "purser"):
        port += 1
        process = start(kind, port)
        before, clock = cpu_seconds(process.pid), time.time()
        result = wrk(port)
        server_cpu[kind].append((cpu_seconds(process.pid) - before) / ((time.time() - clock) * cores))
        results[kind].append(result)
        stop(process)

print("machine: %d cores; wrk -t1 -c32, 10 s after 2 s of warm-up, 3 rounds alternating; medians" % cores)
for kind, label in (("empty", "empty Hummingbird handler (fixed decision)"), ("purser", "purser serve, authorize, in-memory ledger")):
    runs = results[kind]
    print("  %-44s %8.0f req/s  (runs %s)  p50 %.2f ms  p99 %.2f ms  non-2xx %d  wrk CPU %.0f%%  server CPU %.0f%% of the machine"
          % (label, statistics.median(r["rate"] for r in runs), ", ".join("%.0f" % r["rate"] for r in runs),
             statistics.median(r["p50_ms"] for r in runs), statistics.median(r["p99_ms"] for r in runs), sum(r["errors"] for r in runs),
             100 * statistics.median(r["load_cpu"] for r in runs), 100 * statistics.median(server_cpu[kind])))
ratio = statistics.median(r["rate"] for r in results["purser"]) / statistics.median(r["rate"] for r in results["empty"])
print("  ratio purser/empty: %.2f   (goal >= 0.80)" % ratio)

half = statistics.median(r["rate"] for r in results["empty"]) / 2
workers = 16
for kind, label in (("empty", "empty server"), ("purser", "purser serve")):
    port += 1
    process = start(kind, port)
    hey = ["hey", "-c", str(workers), "-q", str(int(half / workers)), "-m", "POST", "-T", "application/json", "-d", body,
           f"http://127.0.0.1:{port}/v1/authorize"]
    subprocess.run(hey[:1] + ["-z", "2s"] + hey[1:], capture_output=True)
    timed = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S"] + hey[:1] + ["-z", "10s"] + hey[1:], capture_output=True, text=True)
    stop(process)
    out = timed.stdout + timed.stderr
    achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = {p: float(re.search(rf"{p}% in ([\d.]+) secs", out).group(1)) * 1000 for p in ("50", "99")}
    elapsed, user, system = map(float, re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+)", out).groups())
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    print("  %-13s at half the empty server's rate (asked %.0f req/s, hey %d workers): achieved %.0f req/s, p50 %.2f ms, p99 %.2f ms, "
          "statuses %s, hey CPU %.0f%% of the machine"
          % (label, half, workers, achieved, percentiles["50"], percentiles["99"], dict(codes), 100 * (user + system) / (elapsed * cores)))
print("  (goal: purser serve's p99 <= 2 ms at half the empty server's rate)")
