#!/usr/bin/env python3
"""gomon beside Metricbeat 7.17.0 on the same simulated Go targets, at the same time.

Starts gomon-simulator with N ports, then gomon and Metricbeat together (golang
module, heap + expvar metric sets, file outputs in a temporary folder), samples
both processes' CPU and memory once a second, stops everything, and prints per
agent and as the ratio gomon / Metricbeat: CPU, documents, scrapes, CPU per
scrape, peak RSS, valid documents per second and how late the fetches arrived
at the simulator compared with their schedule. Standard library only.

    python3 bench/vs-metricbeat/run.py --gomon target/release/gomon \\
        --metricbeat "$(bench/vs-metricbeat/build.sh)" \\
        --simulator target/release/gomon-simulator \\
        --targets 1000 --period 10s --seconds 120

See README.md in this folder for what each figure means.
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

AGENTS = ("gomon", "metricbeat")
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_GRACE_S = 10.0
METRICBEAT_EXPVAR_PATH = "/debug/vars?metricset=expvar"


def parse_duration(text):
    """'10s', '500ms', '1m', '1m30s' or plain seconds -> seconds (float)."""
    text = text.strip()
    if re.fullmatch(r"[0-9.]+", text):
        return float(text)
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for m in re.finditer(r"([0-9.]+)(ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 10s, 500ms, 1m)")
    return total


def period_text(seconds):
    """Seconds -> a duration both agents read ('10s', '500ms')."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def yaml_str(s):
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


# ---------------------------------------------------------------- configs

def gomon_config(hosts, period, out_dir, expvar_mode):
    """The golang module section as a metricbeat.yml has it (gomon reads it unchanged)."""
    lines = [
        "metricbeat.modules:",
        "- module: golang",
        '  metricsets: ["heap", "expvar"]',
        "  enabled: true",
        f"  period: {period_text(period)}",
        "  hosts: [" + ", ".join(yaml_str(h) for h in hosts) + "]",
        '  heap.path: "/debug/vars"',
        "  expvar:",
        "    namespace: app",
        '    path: "/debug/vars"',
    ]
    if expvar_mode != "flatten":
        lines.append(f"    mode: {expvar_mode}")
    return (
        "\n".join(lines) + "\n"
        + "\noutput.file:\n"
        + f"  path: {yaml_str(out_dir)}\n"
        + "  filename: gomon\n"
        + "  rotate_every_kb: 4194304\n"
        + "  number_of_files: 2\n"
        + "\nhttp.enabled: false\n"
    )


def metricbeat_config(hosts, period, out_dir, log_dir):
    """Metricbeat's configuration: the same targets, heap and expvar, file output.

    Metricbeat 7.17 ignores `heap.path` and `expvar.path` in a module section
    (its host parser looks the dotted key up in a nested map and falls back to
    /debug/vars), so its expvar requests get their own path the way it does
    honour: a second module entry whose hosts are full URLs. Both entries have
    the same period, so Metricbeat still makes one heap and one expvar request
    per target per period, as with one entry listing both metric sets.
    """
    heap_hosts = [f"http://{h}/debug/vars" for h in hosts]
    expvar_hosts = [f"http://{h}{METRICBEAT_EXPVAR_PATH}" for h in hosts]
    return (
        "metricbeat.max_start_delay: 0s\n"
        + "metricbeat.modules:\n"
        + "- module: golang\n"
        + '  metricsets: ["heap"]\n'
        + f"  period: {period_text(period)}\n"
        + "  hosts: [" + ", ".join(yaml_str(h) for h in heap_hosts) + "]\n"
        + "- module: golang\n"
        + '  metricsets: ["expvar"]\n'
        + f"  period: {period_text(period)}\n"
        + "  hosts: [" + ", ".join(yaml_str(h) for h in expvar_hosts) + "]\n"
        + "  expvar.namespace: app\n"
        + "\noutput.file:\n"
        + f"  path: {yaml_str(out_dir)}\n"
        + "  filename: metricbeat\n"
        + "  rotate_every_kb: 4194304\n"
        + "  number_of_files: 2\n"
        + "\nlogging.level: info\n"
        + "logging.to_stderr: false\n"
        + "logging.to_files: true\n"
        + "logging.files:\n"
        + f"  path: {yaml_str(log_dir)}\n"
        + "  name: metricbeat\n"
        + "\nmonitoring.enabled: false\n"
        + "http.enabled: false\n"
        # Metricbeat's seccomp filter lacks the rseq system call: with a recent
        # glibc, a thread started after the filter aborts the process
        # ("Fatal glibc error: rseq registration failed").
        + "seccomp.enabled: false\n"
    )


# ---------------------------------------------------------------- processes

def read_proc(pid):
    """(cpu seconds, VmRSS KiB, VmHWM KiB) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    rss = hwm = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return cpu, rss, hwm


def die_with_parent():
    """In the child before exec: SIGTERM when run.py dies, even by SIGKILL.

    An agent left running would keep fetching the same ports and mix its
    requests into the next run's simulator log.
    """
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Interrupted(Exception):
    """run.py received SIGTERM, SIGINT or SIGHUP: stop everything it started."""


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def stop(proc, grace=STOP_GRACE_S):
    """SIGTERM, then SIGKILL after `grace` seconds; returns (exit code, killed)."""
    if proc.poll() is not None:
        return proc.returncode, False
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=grace), False
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(), True


def wait_ready(proc, count, stderr_path, timeout=120.0):
    """Wait for the simulator's `ready N` line on stdout."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the simulator exited with {proc.returncode} before it was ready:\n"
                             f"{tail(stderr_path)}(another simulator on these ports? see --listen)")
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                continue
            buf += chunk
            if b"\n" in buf:
                line = buf.split(b"\n", 1)[0].decode(errors="replace").strip()
                if line != f"ready {count}":
                    raise SystemExit(f"the simulator said {line!r}, expected 'ready {count}'")
                return
    raise SystemExit(f"the simulator was not ready within {timeout:.0f} s")


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------- results

def parse_timestamp(text):
    """RFC 3339 @timestamp -> unix seconds (any number of fraction digits)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError(f"unexpected @timestamp {text!r}")
    base = datetime.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return base.timestamp() + frac


def read_documents(out_dir, window):
    """Documents of an agent's file output, counted by @timestamp in the window."""
    ws, we = window
    docs = {"total": 0, "valid": 0, "error": 0, "heap": 0, "expvar": 0, "other": 0,
            "outside_window": 0, "unparsable": 0}
    errors = {}
    samples = {}
    for name in sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []:
        with open(os.path.join(out_dir, name), errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    doc = json.loads(line)
                    ts = parse_timestamp(doc["@timestamp"])
                except (ValueError, KeyError, TypeError):
                    docs["unparsable"] += 1
                    continue
                if not ws <= ts < we:
                    docs["outside_window"] += 1
                    continue
                docs["total"] += 1
                metricset = (doc.get("metricset") or {}).get("name")
                docs[metricset if metricset in ("heap", "expvar") else "other"] += 1
                if "error" in doc:
                    docs["error"] += 1
                    message = (doc["error"] or {}).get("message", str(doc["error"])) \
                        if isinstance(doc["error"], dict) else str(doc["error"])
                    message = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", message)
                    errors[message] = errors.get(message, 0) + 1
                else:
                    docs["valid"] += 1
                    if metricset in ("heap", "expvar") and metricset not in samples:
                        samples[metricset] = doc
    return docs, errors, samples


def log_files(agent_dir):
    """An agent's stderr and, for Metricbeat, the files of its logs folder."""
    logs = os.path.join(agent_dir, "logs")
    names = sorted(os.listdir(logs)) if os.path.isdir(logs) else []
    return [os.path.join(agent_dir, "stderr.log")] + [os.path.join(logs, n) for n in names]


def log_levels(paths):
    """Warning and error lines in an agent's logs: counts and the first few."""
    counts, first = {"WARN": 0, "ERROR": 0}, []
    for path in paths:
        try:
            f = open(path, errors="replace")
        except FileNotFoundError:
            continue
        with f:
            for line in f:
                m = re.search(r"\b(WARN|WARNING|ERROR)\b", line)
                if m:
                    counts["ERROR" if m.group(1) == "ERROR" else "WARN"] += 1
                    if len(first) < 3:
                        first.append(line.strip()[:300])
    return {"warn_lines": counts["WARN"], "error_lines": counts["ERROR"], "first": first}


def percentile(sorted_values, q):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def agent_of(user_agent):
    ua = user_agent.lower()
    if "gomon" in ua:
        return "gomon"
    if "metricbeat" in ua or "beat" in ua:
        return "metricbeat"
    return "other"


def schedule_phase(times, period):
    """The phase of a stream's schedule, in [0, period).

    Arrivals come at their tick or later, never before: of the arrival times
    modulo the period, the phase is the one after which the others come
    soonest, i.e. the candidate that makes the sum of lags
    (t - phase) mod period smallest. A few late fetches do not move it.
    """
    r = sorted(t % period for t in times)
    n = len(r)
    total = sum(r)
    best, best_sum, before = r[0], None, 0.0
    for j, phase in enumerate(r):
        # arrivals at or after the phase: r_i - phase; before it: r_i - phase + period
        lag_sum = (total - before) - (n - j) * phase + before - j * phase + j * period
        if best_sum is None or lag_sum < best_sum:
            best, best_sum = phase, lag_sum
        before += phase
    return best


def schedule_lag(log_path, window, period, ports, streams_per_target):
    """Lag of each arrival behind its stream's schedule, and skipped ticks.

    Per stream (port, user agent, path): its schedule is phase + k*period,
    the phase taken from the arrivals from a period before the window to a
    period after it (schedule_phase). Each arrival answers the latest tick at
    or before it, and its lag is how long after that tick it came:
    lag_k = t_k - k*period - phase, the brief's t_k - k*period - min_j(t_j -
    j*period) with k the tick rather than the arrival's rank, so that a
    skipped tick is not read as a period of lag, and a fetch that a Go ticker
    runs late and then catches up on is not read as a skip. A lag longer than
    a period reads as a skipped tick plus the remainder. Arrivals whose tick
    lies in the window are counted; the expected arrivals are the stream's
    ticks in the window; skipped = expected - ticks answered.
    A target an agent never fetched in the window counts a whole window of
    skipped ticks per expected stream (streams_per_target[agent]).
    """
    ws, we = window
    streams = {}
    user_agents = {}
    total_requests = {}
    with open(log_path, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            port, ua, path, t_us = parts
            agent = agent_of(ua)
            user_agents.setdefault(agent, set()).add(ua)
            total_requests[agent] = total_requests.get(agent, 0) + 1
            t = int(t_us) / 1e6
            if ws - period <= t < we + period:
                streams.setdefault((int(port), ua, path), []).append(t)
    result = {}
    window_ticks = (we - ws) / period
    for agent in AGENTS:
        lags, expected, seen, requests = [], 0, 0, 0
        per_target = {}
        paths = set()
        for (port, ua, path), times in streams.items():
            if agent_of(ua) != agent:
                continue
            times.sort()
            requests += sum(1 for t in times if ws <= t < we)
            paths.add(path)
            base = schedule_phase(times, period)
            ticks = [math.floor((t - base) / period) for t in times]
            counted = [(k, t - base - k * period) for k, t in zip(ticks, times)
                       if ws <= base + k * period < we]
            lags.extend(lag for _, lag in counted)
            # ticks base + m*period inside [ws, we)
            first = -int((base - ws) // period)
            while base + first * period < ws:
                first += 1
            while base + (first - 1) * period >= ws:
                first -= 1
            last = int((we - base) // period)
            while base + last * period >= we:
                last -= 1
            exp = max(0, last - first + 1)
            expected += exp
            seen += len({k for k, _ in counted})
            if counted:
                per_target[port] = per_target.get(port, 0) + 1
        missing_streams = sum(
            max(0, streams_per_target[agent] - per_target.get(p, 0)) for p in ports)
        expected += round(missing_streams * window_ticks)
        lags.sort()
        result[agent] = {
            "requests_in_window": requests,
            "requests_total": total_requests.get(agent, 0),
            "paths": sorted(paths),
            "user_agents": sorted(user_agents.get(agent, ())),
            "streams": sum(per_target.values()),
            "streams_never_fetched": missing_streams,
            "lag_ms_p50": None if not lags else percentile(lags, 50) * 1000,
            "lag_ms_p99": None if not lags else percentile(lags, 99) * 1000,
            "lag_ms_max": None if not lags else lags[-1] * 1000,
            "expected_arrivals": expected,
            "seen_arrivals": seen,
            "skipped_ticks": max(0, expected - seen),
        }
    result["other_requests"] = total_requests.get("other", 0)
    return result


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gomon", required=True, help="gomon binary (a release build)")
    ap.add_argument("--metricbeat", required=True, help="Metricbeat 7.17.0 binary (build.sh prints it)")
    ap.add_argument("--simulator", required=True, help="gomon-simulator binary")
    ap.add_argument("--targets", type=int, required=True, help="simulated Go programs (ports)")
    ap.add_argument("--period", type=parse_duration, default=10.0, help="fetch period (default 10s)")
    ap.add_argument("--seconds", type=int, default=120, help="how long both agents run (default 120)")
    ap.add_argument("--warmup", type=int, default=20,
                    help="seconds after the start that are not measured (default 20)")
    ap.add_argument("--tail", type=int, default=3,
                    help="seconds both agents keep running after the window, so that documents "
                         "fetched just before its end are written before the stop (default 3)")
    ap.add_argument("--expvar-mode", choices=("flatten", "metricbeat"), default="flatten",
                    help="gomon's expvar.mode (default flatten)")
    ap.add_argument("--listen", default="127.0.0.1:20000",
                    help="simulator's first address; N consecutive ports from it (default 127.0.0.1:20000)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw numbers here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (configs, outputs, logs)")
    args = ap.parse_args()
    if args.targets < 1:
        ap.error("--targets must be at least 1")
    if not 0 <= args.warmup < args.seconds:
        ap.error("--warmup must be below --seconds")
    if args.period < 0.1:
        ap.error("--period must be at least 100ms")
    for name in ("gomon", "metricbeat", "simulator"):
        path = getattr(args, name)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            ap.error(f"--{name}: {path} is not an executable file")

    host, port0 = args.listen.rsplit(":", 1)
    ports = [int(port0) + i for i in range(args.targets)]
    hosts = [f"{host}:{p}" for p in ports]
    tmp = tempfile.mkdtemp(prefix="gomon-vs-metricbeat-")
    dirs = {a: os.path.join(tmp, a) for a in AGENTS}
    for a in AGENTS:
        os.makedirs(os.path.join(dirs[a], "out"))
    os.makedirs(os.path.join(dirs["metricbeat"], "logs"))
    os.makedirs(os.path.join(dirs["metricbeat"], "data"))
    sim_log = os.path.join(tmp, "simulator.log")

    configs = {
        "gomon": gomon_config(hosts, args.period, os.path.join(dirs["gomon"], "out"), args.expvar_mode),
        "metricbeat": metricbeat_config(hosts, args.period, os.path.join(dirs["metricbeat"], "out"),
                                        os.path.join(dirs["metricbeat"], "logs")),
    }
    config_paths = {}
    for a in AGENTS:
        config_paths[a] = os.path.join(dirs[a], f"{a}.yml")
        with open(config_paths[a], "w") as f:
            f.write(configs[a])
        os.chmod(config_paths[a], 0o600)
    commands = {
        "gomon": [os.path.abspath(args.gomon), "run", "-c", config_paths["gomon"],
                  "--data", os.path.join(dirs["gomon"], "data")],
        "metricbeat": [os.path.abspath(args.metricbeat), "run", "-c", config_paths["metricbeat"],
                       "--path.home", dirs["metricbeat"],
                       "--path.config", dirs["metricbeat"],
                       "--path.data", os.path.join(dirs["metricbeat"], "data"),
                       "--path.logs", os.path.join(dirs["metricbeat"], "logs")],
    }

    print(f"working folder: {tmp}", file=sys.stderr)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    sim = subprocess.Popen([os.path.abspath(args.simulator), "--listen", args.listen,
                            "--count", str(args.targets), "--log", sim_log],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "simulator.stderr"), "w"),
                           preexec_fn=die_with_parent)
    procs = {}
    try:
        wait_ready(sim, args.targets, os.path.join(tmp, "simulator.stderr"))
        load_start = loadavg()
        print(f"simulator ready with {args.targets} targets; starting both agents for {args.seconds} s",
              file=sys.stderr)
        logs = {a: open(os.path.join(dirs[a], "stderr.log"), "w") for a in AGENTS}
        start = time.time()
        for a in AGENTS:
            procs[a] = subprocess.Popen(commands[a], stdout=logs[a], stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=dirs[a], preexec_fn=die_with_parent)
        samples = {a: [] for a in AGENTS + ("simulator",)}
        pids = {a: procs[a].pid for a in AGENTS}
        pids["simulator"] = sim.pid
        window = (start + args.warmup, start + args.seconds)
        died = {}
        for i in range(args.seconds + args.tail + 1):
            delay = start + i - time.time()
            if delay > 0:
                time.sleep(delay)
            now = time.time()
            for a, pid in pids.items():
                if a in died:
                    continue
                s = read_proc(pid)
                code = procs[a].poll() if a in procs else sim.poll()
                if s is None or code is not None:
                    died[a] = (now - start, code)
                    continue
                if i <= args.seconds:
                    samples[a].append((now - start, *s))
            if i == args.seconds:
                load_end = loadavg()
            if died:
                break
    except Interrupted as e:
        for p in list(procs.values()) + [sim]:
            stop(p)
        print(f"interrupted by {e}; stopped what was started; files kept in {tmp}", file=sys.stderr)
        return 130
    finally:
        stopped = {a: stop(p) for a, p in procs.items()}
        sim_code, sim_killed = stop(sim, grace=60.0)

    for a, (when, code) in died.items():
        log = os.path.join(dirs[a], "stderr.log") if a in dirs else os.path.join(tmp, "simulator.stderr")
        print(f"{a} exited early ({when:.1f} s after the start, exit code {code}); its output:\n{tail(log)}",
              file=sys.stderr)
    if died:
        print(f"files kept in {tmp}", file=sys.stderr)
        return 1
    if sim_killed or not os.path.exists(sim_log):
        print(f"the simulator did not write its log (exit {sim_code}, killed {sim_killed})", file=sys.stderr)
        return 1

    window_s = window[1] - window[0]
    report = {
        "targets": args.targets, "period_s": args.period, "seconds": args.seconds,
        "warmup_s": args.warmup, "window_s": window_s, "expvar_mode": args.expvar_mode,
        "load_average_start": load_start, "load_average_end": load_end,
        "cpus": os.cpu_count(), "started_at": datetime.datetime.fromtimestamp(start, datetime.timezone.utc).isoformat(),
        "stopped": {a: {"exit_code": c, "killed": k} for a, (c, k) in stopped.items()},
        "simulator": {},
        "agents": {},
    }
    sched = schedule_lag(sim_log, window, args.period, ports, {"gomon": 1, "metricbeat": 2})
    report["other_requests"] = sched.pop("other_requests")

    def cpu_window(rows):
        inside = [r for r in rows if args.warmup - 1e-6 <= r[0]]
        if len(inside) < 2:
            return None
        return inside[-1][1] - inside[0][1], inside[-1][0] - inside[0][0]

    sim_cpu = cpu_window(samples["simulator"])
    report["simulator"] = {
        "cpu_s": sim_cpu and sim_cpu[0],
        "peak_rss_mib": max((r[3] for r in samples["simulator"]), default=0) / 1024,
        "exit_code": sim_code,
    }
    for a in AGENTS:
        cpu = cpu_window(samples[a])
        docs, errors, doc_samples = read_documents(os.path.join(dirs[a], "out"), window)
        if a == "gomon":
            scrapes = docs["heap"]  # one fetch feeds one heap and one expvar document
        else:
            scrapes = (docs["heap"] + docs["expvar"]) / 2  # two requests, two documents per scrape
        rows_in = [r for r in samples[a] if args.warmup - 1e-6 <= r[0]]
        cpu_s = cpu[0] if cpu else None
        report["agents"][a] = {
            "command": commands[a],
            "cpu_s": cpu_s,
            "cpu_measured_over_s": cpu[1] if cpu else None,
            "cpu_percent_of_one_core": (100 * cpu[0] / cpu[1]) if cpu and cpu[1] else None,
            "documents": docs,
            "scrapes": scrapes,
            "cpu_ms_per_scrape": (1000 * cpu_s / scrapes) if cpu_s is not None and scrapes else None,
            "cpu_ms_per_document": (1000 * cpu_s / docs["total"]) if cpu_s is not None and docs["total"] else None,
            "cpu_ms_per_request": (1000 * cpu_s / sched[a]["requests_in_window"])
            if cpu_s is not None and sched[a]["requests_in_window"] else None,
            "peak_rss_mib": max((r[3] for r in samples[a]), default=0) / 1024,
            "max_rss_in_window_mib": max((r[2] for r in rows_in), default=0) / 1024,
            "valid_documents_per_s": docs["valid"] / window_s,
            "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:10]),
            "log": log_levels(log_files(dirs[a])),
            "schedule": sched[a],
            "sample_documents": doc_samples,
        }
    report["workdir"] = tmp if args.keep else None

    print_table(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"files kept in {tmp}", file=sys.stderr)
    return 0


def print_table(r):
    g, m = r["agents"]["gomon"], r["agents"]["metricbeat"]

    def fmt(v, digits=1):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.{digits}f}"
        return f"{v:,}"

    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b else "-"

    rows = [
        ("CPU in window (s)", g["cpu_s"], m["cpu_s"], 2),
        ("CPU (% of one core)", g["cpu_percent_of_one_core"], m["cpu_percent_of_one_core"], 1),
        ("documents in window", g["documents"]["total"], m["documents"]["total"], 0),
        ("  valid", g["documents"]["valid"], m["documents"]["valid"], 0),
        ("  error", g["documents"]["error"], m["documents"]["error"], 0),
        ("scrapes (heap+expvar)", g["scrapes"], m["scrapes"], 1),
        ("HTTP requests in window", g["schedule"]["requests_in_window"], m["schedule"]["requests_in_window"], 0),
        ("CPU per scrape (ms)", g["cpu_ms_per_scrape"], m["cpu_ms_per_scrape"], 3),
        ("CPU per document (ms)", g["cpu_ms_per_document"], m["cpu_ms_per_document"], 3),
        ("CPU per request (ms)", g["cpu_ms_per_request"], m["cpu_ms_per_request"], 3),
        ("peak RSS (MiB, VmHWM)", g["peak_rss_mib"], m["peak_rss_mib"], 1),
        ("max RSS in window (MiB)", g["max_rss_in_window_mib"], m["max_rss_in_window_mib"], 1),
        ("valid documents per s", g["valid_documents_per_s"], m["valid_documents_per_s"], 1),
        ("lag p50 (ms)", g["schedule"]["lag_ms_p50"], m["schedule"]["lag_ms_p50"], 1),
        ("lag p99 (ms)", g["schedule"]["lag_ms_p99"], m["schedule"]["lag_ms_p99"], 1),
        ("lag max (ms)", g["schedule"]["lag_ms_max"], m["schedule"]["lag_ms_max"], 1),
        ("skipped ticks", g["schedule"]["skipped_ticks"], m["schedule"]["skipped_ticks"], 0),
    ]
    print(f"gomon vs Metricbeat 7.17.0: {r['targets']} targets, period {period_text(r['period_s'])}, "
          f"{r['seconds']} s run, measured over the last {r['window_s']:.0f} s "
          f"(warm-up {r['warmup_s']} s), gomon expvar.mode {r['expvar_mode']}")
    print(f"load average at start {' '.join(map(str, r['load_average_start']))}, "
          f"at end {' '.join(map(str, r['load_average_end']))} ({r['cpus']} CPUs); "
          f"simulator CPU in window {fmt(r['simulator']['cpu_s'], 2)} s, "
          f"peak RSS {fmt(r['simulator']['peak_rss_mib'])} MiB")
    print()
    w = max(len(row[0]) for row in rows)
    print(f"{'':<{w}}  {'gomon':>12}  {'Metricbeat':>12}  {'gomon/MB':>9}")
    for name, a, b, digits in rows:
        print(f"{name:<{w}}  {fmt(a, digits):>12}  {fmt(b, digits):>12}  {ratio(a, b):>9}")
    for name, agent in (("gomon", g), ("Metricbeat", m)):
        stopped = r["stopped"]["gomon" if name == "gomon" else "metricbeat"]
        print(f"\n{name}: exit {stopped['exit_code']}{' (killed after 10 s)' if stopped['killed'] else ''}; "
              f"user agent {', '.join(agent['schedule']['user_agents']) or '-'}; "
              f"paths {', '.join(agent['schedule']['paths']) or '-'}; "
              f"targets never fetched in window: {agent['schedule']['streams_never_fetched']}")
        print(f"  log: {agent['log']['warn_lines']} warning and {agent['log']['error_lines']} error lines")
        for line in agent["log"]["first"]:
            print(f"    {line}")
        for message, count in agent["errors"].items():
            print(f"  {count} x error: {message}")
    if r["other_requests"]:
        print(f"\nrequests from other user agents: {r['other_requests']}")


if __name__ == "__main__":
    sys.exit(main())
