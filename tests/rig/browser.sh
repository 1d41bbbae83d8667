#!/usr/bin/env bash
# Installs the headless browser the view's tests drive: Debian's `chromium`
# package (no browser download of its own). Idempotent; prints the path of
# the chromium binary on stdout, everything else on stderr.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "browser: chromium is missing; install Debian's chromium package (as root: apt-get install -y chromium)" >&2
    exit 1
  fi
  echo "browser: installing Debian's chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
command -v chromium
