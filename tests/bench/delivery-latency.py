"""Measures how soon documents are readable in gomon's file store while it
runs, at a given number of targets fetched every second.

Usage: python3 tests/bench/delivery-latency.py GOMON_BINARY GO_APP_BINARY TARGETS SECONDS

It starts one example Go app on loopback, gives gomon TARGETS distinct URLs
on it (a query string per target), tails the store file every 100 ms, and
prints the delay between each document's fetch (@timestamp) and the moment
it was first readable: median, p99, worst; plus gomon's CPU time and peak
RSS from /proc. gomon is killed with SIGKILL at the end (no flush).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime


def main(gomon, app_binary, targets, seconds):
    app = subprocess.Popen([app_binary, "-addr", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    addr = app.stdout.readline().strip().removeprefix("listening on ")
    work = tempfile.mkdtemp(prefix="gomon-latency-")
    store = os.path.join(work, "store")
    hosts = ", ".join(f'"http://{addr}/debug/vars?t={i}"' for i in range(targets))
    config = os.path.join(work, "gomon.yml")
    with open(config, "w") as f:
        f.write(
            f"modules:\n  - module: golang\n    metricsets: [heap, expvar]\n    period: 1s\n"
            f"    hosts: [{hosts}]\n    expvar.namespace: app\n"
            f"http.enabled: false\noutput.file:\n  path: {store!r}\n  rotate_every_kb: 10485760\n"
        )
    agent = subprocess.Popen([gomon, "run", "-c", config], stderr=subprocess.DEVNULL)
    path = os.path.join(store, "gomon.ndjson")
    offset, delays, peak_kib = 0, [], 0
    start = time.time()
    try:
        while time.time() - start < seconds:
            now = time.time()
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            complete = data.rfind(b"\n") + 1
            offset += complete
            for line in data[:complete].splitlines():
                stamp = json.loads(line)["@timestamp"].replace("Z", "+00:00")
                delays.append(now - datetime.fromisoformat(stamp).timestamp())
            with open(f"/proc/{agent.pid}/status") as s:
                for l in s:
                    if l.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(l.split()[1]))
            time.sleep(0.1)
        with open(f"/proc/{agent.pid}/stat") as s:
            fields = s.read().rsplit(")", 1)[1].split()
            cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        app.terminate()
        app.wait()
    delays.sort()
    if not delays:
        sys.exit("no document became readable")
    pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
    load = os.getloadavg()[0]
    print(
        f"{targets} targets at 1 s for {seconds} s: {len(delays)} documents readable while running; "
        f"delay after fetch median {pick(0.5) * 1000:.0f} ms, p99 {pick(0.99) * 1000:.0f} ms, "
        f"worst {delays[-1] * 1000:.0f} ms; gomon CPU {cpu_s:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB; "
        f"load average {load:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
