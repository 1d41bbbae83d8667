#!/bin/sh
# Builds Metricbeat 7.17.0 (the benchmark's baseline) from the Go module proxy
# into a cache outside the repository and prints the binary's path. Skips the
# build when the binary is already there. Modules go to the usual GOMODCACHE.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="${XDG_CACHE_HOME:-$HOME/.cache}/gomon-bench/metricbeat-7.17.0"
if [ ! -x "$out" ]; then
	mkdir -p "$(dirname "$out")"
	echo "building Metricbeat 7.17.0 into $out (several minutes)" >&2
	# -checklinkname=0: beats 7.17's dependencies reach runtime internals
	# through go:linkname, which Go 1.23 and later refuse by default.
	(cd "$here" && go build -mod=readonly -trimpath -ldflags=-checklinkname=0 -o "$out.tmp" .)
	mv "$out.tmp" "$out"
fi
echo "$out"
