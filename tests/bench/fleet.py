"""What a fleet costs gomon: N simulated targets fetched every PERIOD
seconds, measured from outside while gomon runs.

Usage: python3 tests/bench/fleet.py GOMON SIMULATOR TARGETS PERIOD_S SECONDS [WARMUP_S]

With FLEET_OUTPUT=store in the environment, gomon writes into its embedded
store (the default output, `--data` in the work folder) instead of its file
output, and documents are counted in the store (heap and expvar rows).

GOMON is a release build of gomon, SIMULATOR of gomon-simulator
(`cargo build --release -p gomon -p gomon-simulator`). The simulator serves
TARGETS ports from 127.0.0.1:20000 (one process per 5,000, within the
descriptor limit) and logs every request; gomon fetches
them all (heap + expvar, one fetch each) into its file output. After
WARMUP_S (default: two periods) the script measures for the rest of
SECONDS and prints:

- gomon's CPU (utime + stime from /proc) as a share of one core, and per
  scrape (one fetch giving a heap and an expvar document);
- documents written per second (from the file), and how many were errors;
- peak RSS (VmHWM) and RSS per target;
- schedule lag: per target, each fetch's arrival at the simulator against
  its schedule (the target's most punctual phase plus k periods), p50 /
  p99 / max over all fetches of the window;
- skipped ticks (gomon's own counters, `fetches.*.skipped` of its
  /debug/vars) and fetches missing at the simulator;
- the load average before and after.

Everything runs on loopback and stops by itself.
"""
import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

FIRST_PORT = 20000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def count_documents(path):
    """Documents and error documents in the file output so far."""
    docs = errors = 0
    try:
        with open(path, "rb") as f:
            for line in f:
                docs += 1
                if b'"error":' in line:
                    errors += 1
    except FileNotFoundError:
        pass
    return docs, errors


def count_store_documents(path):
    """Documents and error documents in the embedded store so far."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return 0, 0
    try:
        heap, errors = db.execute("SELECT COUNT(*), COUNT(error) FROM heap").fetchone()
        (expvar,) = db.execute("SELECT COUNT(*) FROM expvar").fetchone()
        return heap + expvar, errors
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        db.close()


def skipped_ticks(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/vars", timeout=10) as r:
        vars = json.load(r)
    return sum(t.get("skipped", 0) for t in vars.get("fetches", {}).values())


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def lags(log_paths, period_us, start_us, end_us):
    """Per target: lag of each arrival in [start, end) behind the target's
    most punctual phase; and how many expected arrivals are missing."""
    arrivals = {}
    for log_path in log_paths:
        with open(log_path) as f:
            for line in f:
                port, agent, _path, at = line.rstrip("\n").split("\t")
                if agent.startswith("gomon"):
                    arrivals.setdefault(int(port), []).append(int(at))
    all_lags, missing = [], 0
    for times in arrivals.values():
        window = [t for t in times if start_us <= t < end_us]
        if not window:
            continue
        offsets = [(t - start_us) % period_us for t in window]
        # A schedule near the period's edge wraps: late ones look early.
        if max(offsets) - min(offsets) > period_us // 2:
            offsets = [o + period_us if o < period_us // 2 else o for o in offsets]
        phase = min(offsets)
        all_lags.extend(o - phase for o in offsets)
        first = start_us + phase % period_us
        expected = -(-(end_us - first) // period_us)
        missing += max(0, expected - len(window))
    return sorted(all_lags), missing, len(arrivals)


def main(gomon, simulator, targets, period, seconds, warmup):
    # Descriptors: raised to the hard limit. A simulator process holds two
    # per target (listener and connection), so each serves at most
    # PER_SIMULATOR targets.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    per_simulator = max(1, min(5000, (hard - 256) // 2))
    work = tempfile.mkdtemp(prefix="gomon-fleet-")
    sims, logs = [], []
    for first in range(0, targets, per_simulator):
        count = min(per_simulator, targets - first)
        log_path = os.path.join(work, f"requests-{first}.tsv")
        sim = subprocess.Popen(
            [simulator, "--listen", f"127.0.0.1:{FIRST_PORT + first}", "--count", str(count),
             "--log", log_path],
            stdout=subprocess.PIPE, text=True,
        )
        ready = sim.stdout.readline().strip()
        if ready != f"ready {count}":
            sys.exit(f"simulator did not start: {ready!r}")
        sims.append(sim)
        logs.append(log_path)
    self_port = free_port()
    hosts = ", ".join(f'"127.0.0.1:{FIRST_PORT + i}"' for i in range(targets))
    out = os.path.join(work, "out")
    config = os.path.join(work, "gomon.yml")
    store = os.environ.get("FLEET_OUTPUT", "file") == "store"
    with open(config, "w") as f:
        f.write(
            f"modules:\n  - module: golang\n    metricsets: [heap, expvar]\n    period: {period}s\n"
            f"    hosts: [{hosts}]\n    expvar.namespace: app\n"
            f"http:\n  enabled: true\n  host: 127.0.0.1\n  port: {self_port}\n"
        )
        if not store:
            f.write(f"output.file:\n  path: {out!r}\n  rotate_every_kb: 104857600\n")
    load_before = open("/proc/loadavg").read().split()[:3]
    agent = subprocess.Popen([gomon, "run", "-c", config, "--data", out], stderr=subprocess.DEVNULL)
    path = os.path.join(out, "gomon.db" if store else "gomon.ndjson")
    count = count_store_documents if store else count_documents
    try:
        time.sleep(warmup)
        start_wall, cpu0 = time.time(), cpu_seconds(agent.pid)
        docs0, errors0 = count(path)
        skipped0 = skipped_ticks(self_port)
        time.sleep(seconds - warmup)
        end_wall, cpu1 = time.time(), cpu_seconds(agent.pid)
        docs1, errors1 = count(path)
        skipped1 = skipped_ticks(self_port)
        peak_kib = status_kib(agent.pid, "VmHWM")
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
        for sim in sims:
            sim.send_signal(signal.SIGTERM)
        for sim in sims:
            sim.wait(timeout=120)
    window = end_wall - start_wall
    cpu = cpu1 - cpu0
    docs = docs1 - docs0
    lag, missing, seen = lags(logs, int(period * 1e6), int(start_wall * 1e6), int(end_wall * 1e6))
    load_after = open("/proc/loadavg").read().split()[:3]
    scrapes = docs / 2
    result = {
        "output": "store" if store else "file",
        "targets": targets,
        "period_s": period,
        "window_s": round(window, 1),
        "cpu_share_of_one_core": round(cpu / window, 4),
        "cpu_us_per_scrape": round(cpu / scrapes * 1e6, 1) if scrapes else None,
        "documents_per_s": round(docs / window, 1),
        "error_documents": errors1 - errors0,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_kib_per_target": round(peak_kib / targets, 1),
        "lag_ms_p50": round(percentile(lag, 0.50) / 1000, 1),
        "lag_ms_p99": round(percentile(lag, 0.99) / 1000, 1),
        "lag_ms_max": round((lag[-1] if lag else float("nan")) / 1000, 1),
        "fetches_in_window": len(lag),
        "targets_fetched": seen,
        "skipped_ticks": skipped1 - skipped0,
        "missing_fetches": missing,
        "load_before": " ".join(load_before),
        "load_after": " ".join(load_after),
    }
    for key, value in result.items():
        print(f"{key:24} {value}")


if __name__ == "__main__":
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    g, s, n, p, t = sys.argv[1:6]
    period = float(p)
    w = float(sys.argv[6]) if len(sys.argv) == 7 else 2 * period
    main(g, s, int(n), period, float(t), w)
