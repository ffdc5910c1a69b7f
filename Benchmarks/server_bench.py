"""`purser serve` against an empty Hummingbird server, in one run (Benchmarks/run.sh server).

Each server runs alone on loopback; wrk (one thread, 32 connections) POSTs one realistic
request for 10 s after 2 s of warm-up, three rounds alternating the two servers, and the
medians are compared. Then ratepost (Benchmarks/ratepost/ratepost.c, a constant-rate
generator in C on epoll that measures each latency from when its request was due) sends half
of the empty server's median rate to each server and reports latency percentiles. The CPU the
load generator used is reported as a share of the machine's cores, since it competes with the
server for them, and so is the server's own CPU per request.

    python3 server_bench.py PURSER EMPTY_SERVER FIXTURE_DIR RATEPOST
"""
import json, os, re, signal, statistics, subprocess, sys, tempfile, time

purser, empty, fixture, ratepost = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
connections = 32
body_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
body_file.write(body)
body_file.close()
for round in range(3):
    for kind, label in (("empty", "empty server"), ("purser", "purser serve")):
        port += 1
        process = start(kind, port)
        before, clock = cpu_seconds(process.pid), time.time()
        out = subprocess.run([ratepost, "127.0.0.1", str(port), "/v1/authorize", body_file.name, str(int(half)), str(connections), "10", "2"],
                             capture_output=True, text=True)
        server_share = (cpu_seconds(process.pid) - before) / ((time.time() - clock) * cores)
        stop(process)
        if out.returncode != 0:
            raise SystemExit(f"ratepost failed: {out.stderr}")
        fields = dict(item.split("=") for item in out.stdout.split())
        achieved = float(fields["achieved"])
        print("  round %d %-13s at half the empty server's rate (asked %.0f req/s, %d connections): achieved %.0f req/s, p50 %.2f ms, p90 %.2f ms, "
              "p99 %s ms, p99.9 %s ms, non-200 %s, errors %s, ratepost CPU %.0f%% of the machine, server CPU %.0f%% (%.1f us of CPU per request)"
              % (round + 1, label, half, connections, achieved, float(fields["p50_ms"]), float(fields["p90_ms"]), fields["p99_ms"], fields["p999_ms"],
                 fields["non200"], fields["errors"], 100 * float(fields["cpu_of_one_core"]) / cores, 100 * server_share,
                 server_share * cores / achieved * 1e6))
os.unlink(body_file.name)
print("  (goal: purser serve's p99 <= 2 ms at half the empty server's rate)")
