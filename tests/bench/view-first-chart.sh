#!/usr/bin/env bash
# Time to the first chart drawn by `gomon view` in a real headless Chromium:
# from navigation start (cache disabled) to the end of the first uPlot draw
# with data (the page's `gomon-first-chart` performance mark), over RUNS
# loads of the leaking app's page (or the first target's) over RANGE (a
# preset of the page: 5m, 15m, 1h, 6h, 24h, 7d, 30d; default 1h).
#
#   bash tests/bench/view-first-chart.sh DATA_DIR [RUNS] [RANGE]
#
# DATA_DIR is a data folder with a store (gomon.db) that `gomon run --data
# DATA_DIR` filled. Needs node 20+; installs Debian's chromium if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?usage: view-first-chart.sh DATA_DIR [RUNS]}
runs=${2:-10}
range=${3:-1h}
chromium=$(bash tests/rig/browser.sh)
cargo build --release --quiet -p gomon
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
target/release/gomon view --data "$data" --listen "127.0.0.1:$port" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/api/targets" >/dev/null && break
  sleep 0.1
done
target=$(curl -sf "http://127.0.0.1:$port/api/targets" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["targets"]
leaking = [t for t in targets if t["program"] == "leaking"]
print((leaking or targets)[0]["address"])')
node --experimental-websocket tests/browser/drive.mjs --chromium "$chromium" \
  --url "http://127.0.0.1:$port/" --target "$target" --bench "$runs" --bench-range "$range" 2>/dev/null | python3 -c '
import json, statistics, sys
ms = json.load(sys.stdin)["firstChartMs"]
print(f"first chart drawn after {statistics.median(ms):.0f} ms (median of {len(ms)} loads; min {min(ms)}, max {max(ms)})")'
