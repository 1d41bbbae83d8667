"""What the profile metric set costs the Go program it watches.

Usage: python3 tests/bench/profile-cost.py GO_APP_BINARY SECONDS RATE [APP_ARGS...]

Starts the example Go app on loopback and measures, from outside, its CPU
time (/proc/PID/stat) and its GC pauses (memstats from /debug/vars) over
SECONDS without profiles, then over SECONDS with a heap profile and a
goroutine profile fetched RATE times a second (as gomon's profile metric
set fetches them, without ?gc=1). Prints the extra CPU per pair of
profiles, the extra GC pause, the time to serve each, and what that comes
to at the default profile.period of one minute. Bounded: it stops by
itself after 2 × SECONDS.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memstats(addr):
    with urllib.request.urlopen(f"http://{addr}/debug/vars", timeout=10) as r:
        m = json.load(r)["memstats"]
    return m["NumGC"], m["PauseTotalNs"]


def fetch(url):
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        size = len(r.read())
    return time.perf_counter() - started, size


def phase(pid, addr, seconds, rate):
    cpu0, (gc0, pause0) = cpu_seconds(pid), memstats(addr)
    served, sizes, end = [], [], time.time() + seconds
    while time.time() < end:
        tick = time.time()
        if rate > 0:
            heap, heap_size = fetch(f"http://{addr}/debug/pprof/heap")
            goroutines, _ = fetch(f"http://{addr}/debug/pprof/goroutine")
            served.append((heap, goroutines))
            sizes.append(heap_size)
            time.sleep(max(0.0, 1.0 / rate - (time.time() - tick)))
        else:
            time.sleep(min(1.0, end - time.time()))
    cpu1, (gc1, pause1) = cpu_seconds(pid), memstats(addr)
    return cpu1 - cpu0, gc1 - gc0, (pause1 - pause0) / 1e6, served, sizes


def main(binary, seconds, rate, args):
    app = subprocess.Popen([binary, "-addr", "127.0.0.1:0", *args], stdout=subprocess.PIPE, text=True)
    addr = app.stdout.readline().strip().removeprefix("listening on ")
    try:
        time.sleep(5)  # past the start-up allocations
        base_cpu, base_gc, base_pause, _, _ = phase(app.pid, addr, seconds, 0)
        cpu, gc, pause, served, sizes = phase(app.pid, addr, seconds, rate)
    finally:
        app.kill()
        app.wait()
    n = len(served)
    extra_cpu = max(0.0, cpu - base_cpu) / n
    heap_ms = [h * 1000 for h, _ in served]
    goroutine_ms = [g * 1000 for _, g in served]
    print(f"app: {os.path.basename(binary)} {' '.join(args)}; load {os.getloadavg()[0]:.2f}")
    print(f"without profiles: {base_cpu:.2f} s CPU, {base_gc} GCs, {base_pause:.2f} ms GC pause over {seconds} s")
    print(f"with {n} heap + goroutine profiles: {cpu:.2f} s CPU, {gc} GCs, {pause:.2f} ms GC pause over {seconds} s")
    print(f"heap profile: {statistics.median(sizes)} bytes, served in median {statistics.median(heap_ms):.1f} ms, worst {max(heap_ms):.1f} ms")
    print(f"goroutine profile: served in median {statistics.median(goroutine_ms):.1f} ms, worst {max(goroutine_ms):.1f} ms")
    print(f"extra CPU per pair of profiles: {extra_cpu * 1000:.1f} ms; extra GC pause: {(pause - base_pause) / n:.3f} ms per pair")
    print(f"at the default profile.period (1 min): {extra_cpu / 60 * 100:.4f} % of one core")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
