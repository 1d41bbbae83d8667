#!/usr/bin/env bash
# Runs every check and every test of gomon on real components:
#   1. hygiene: cargo fmt --check, clippy -D warnings, cargo deny (licenses, bans, sources);
#   2. the Go example apps: gofmt, go vet, go build (the machine's `go`);
#   3. the rig: a real Elasticsearch and a real OpenSearch from Maven Central,
#      cached outside the repository, started on free loopback ports;
#   4. cargo test --workspace against them, then a ledger of which tests
#      reached which server; the servers are stopped whatever happens.
# README command (b); .ci/run calls it as written there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
for tool in cargo go java mvn curl python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (see README.md, Requirements)" >&2; exit 1; }
done
cargo --version; go version; java -version 2>&1 | sed -n 1p; mvn -v 2>/dev/null | sed -n 1p
if ! cargo deny --version >/dev/null 2>&1; then
  step "installing cargo-deny (once per machine)"
  cargo install cargo-deny --locked --version 0.20.2
fi

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
export GOMON_RIG_LEDGER=$rig_dir/ledger.txt
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

step "cargo test --workspace"
cargo test --workspace --locked

step "tests that reached a real server"
if [[ ! -s $GOMON_RIG_LEDGER ]]; then
  echo "no test recorded reaching a server: the rig was not used" >&2
  exit 1
fi
sort "$GOMON_RIG_LEDGER"
for kind in elasticsearch opensearch; do
  grep -q ": $kind at " "$GOMON_RIG_LEDGER" || { echo "no test reached $kind" >&2; exit 1; }
done
