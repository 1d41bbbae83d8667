#!/usr/bin/env bash
# The test rig: provisions real Elasticsearch / OpenSearch servers from Maven
# Central, starts them on free loopback ports and stops them again.
#
#   rig.sh provision            download and unpack every engine in GOMON_RIG_ENGINES
#   rig.sh start DIR            start them, runtime state in DIR; prints KEY=VALUE lines
#   rig.sh stop DIR             stop what `start DIR` started
#
# Engines are named KIND-VERSION (elasticsearch-9.5.4, opensearch-2.19.6,
# elasticsearch-8.19.21, elasticsearch-7.17.29). Downloads stay in Maven's
# local repository (~/.m2); unpacked trees in GOMON_RIG_CACHE
# (default /var/cache/gomon-rig as root, else ~/.cache/gomon-rig), outside
# the repository. Servers refuse to run as root, so as root the rig runs them
# as the unprivileged system user gomon-rig, which it creates.
set -euo pipefail

ENGINES=${GOMON_RIG_ENGINES:-"elasticsearch-9.5.4 opensearch-2.19.6"}
HEAP=${GOMON_RIG_HEAP:-512m}
START_TIMEOUT=${GOMON_RIG_START_TIMEOUT:-180}
if [[ $(id -u) -eq 0 ]]; then
  CACHE=${GOMON_RIG_CACHE:-/var/cache/gomon-rig}
  RUN_AS=gomon-rig
else
  CACHE=${GOMON_RIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gomon-rig}
  RUN_AS=
fi

log() { echo "rig: $*" >&2; }
die() { echo "rig: error: $*" >&2; exit 1; }

kind_of() { echo "${1%%-*}"; }
version_of() { echo "${1#*-}"; }

maven_coordinates() {
  local kind version
  kind=$(kind_of "$1"); version=$(version_of "$1")
  case $kind in
    elasticsearch) echo "org.elasticsearch.distribution.integ-test-zip:elasticsearch:$version:zip" ;;
    opensearch) echo "org.opensearch.distribution.integ-test-zip:opensearch:$version:zip" ;;
    *) die "unknown engine kind '$kind' in '$1' (expected elasticsearch-X.Y.Z or opensearch-X.Y.Z)" ;;
  esac
}

# The JDK each engine needs: Elasticsearch 9 needs Java 21 or newer (the
# newest Temurin under /usr/lib/jvm); everything else runs on Java 17.
java_home_for() {
  local kind major
  kind=$(kind_of "$1"); major=$(version_of "$1"); major=${major%%.*}
  if [[ $kind == elasticsearch && $major -ge 9 ]]; then
    local jdk
    jdk=$(ls -d /usr/lib/jvm/temurin-2[1-9]-jdk-* 2>/dev/null | sort -V | tail -n1 || true)
    [[ -n $jdk ]] || die "$1 needs Java 21+; no /usr/lib/jvm/temurin-2x-jdk-* found"
    echo "$jdk"
  else
    local jdk
    for jdk in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/temurin-17-jdk-*; do
      [[ -x $jdk/bin/java ]] && { echo "$jdk"; return; }
    done
    die "$1 needs Java 17; none found under /usr/lib/jvm"
  fi
}

ensure_user() {
  [[ -z $RUN_AS ]] && return
  id -u "$RUN_AS" >/dev/null 2>&1 && return
  log "creating system user $RUN_AS to run the servers"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
}

home_of() { echo "$CACHE/$1/$(kind_of "$1")-$(version_of "$1")"; }

provision_one() {
  local engine=$1 coords kind version zip home
  kind=$(kind_of "$engine"); version=$(version_of "$engine")
  home=$(home_of "$engine")
  if [[ -x $home/bin/$kind ]]; then
    log "$engine: cached in $home"
    return
  fi
  coords=$(maven_coordinates "$engine")
  zip=$HOME/.m2/repository/$(echo "${coords%%:*}" | tr . /)/$kind/$version/$kind-$version.zip
  if [[ ! -f $zip ]]; then
    log "$engine: fetching $coords with Maven"
    mvn -q -B dependency:get -Dartifact="$coords" -Dtransitive=false >&2 \
      || die "$engine: Maven could not fetch $coords"
  fi
  [[ -f $zip ]] || die "$engine: expected $zip after download"
  log "$engine: unpacking into $CACHE/$engine"
  rm -rf "$CACHE/$engine.tmp"
  mkdir -p "$CACHE/$engine.tmp"
  if command -v unzip >/dev/null; then
    unzip -q "$zip" -d "$CACHE/$engine.tmp"
  else
    # Python's zipfile drops file modes: restore the executables' bits.
    python3 -m zipfile -e "$zip" "$CACHE/$engine.tmp"
    chmod +x "$CACHE/$engine.tmp"/*/bin/*
  fi
  rm -rf "$CACHE/$engine"
  mv "$CACHE/$engine.tmp" "$CACHE/$engine"
  [[ -x $home/bin/$kind ]] || die "$engine: $home/bin/$kind missing after unpacking"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_one() {
  local engine=$1 dir=$2 kind home jh http tport state
  kind=$(kind_of "$engine"); home=$(home_of "$engine")
  [[ -x $home/bin/$kind ]] || die "$engine is not provisioned (run: $0 provision)"
  jh=$(java_home_for "$engine")
  http=$(free_port); tport=$(free_port)
  state=$dir/$engine
  mkdir -p "$state/data" "$state/logs" "$state/tmp"
  # The server needs to write its own files only: give them to the run user.
  if [[ -n $RUN_AS ]]; then
    chmod 755 "$CACHE" "$CACHE/$engine"
    chown -R "$RUN_AS" "$home" "$state"
    chmod 711 "$dir"
  fi
  local -a env=(
    "JAVA_HOME=$jh" "ES_JAVA_HOME=$jh" "OPENSEARCH_JAVA_HOME=$jh"
    "ES_JAVA_OPTS=-Xms$HEAP -Xmx$HEAP" "OPENSEARCH_JAVA_OPTS=-Xms$HEAP -Xmx$HEAP"
    "ES_TMPDIR=$state/tmp" "OPENSEARCH_TMPDIR=$state/tmp"
    "PATH=$jh/bin:/usr/local/bin:/usr/bin:/bin" "HOME=$state"
  )
  local -a args=(
    -d -p "$state/pid"
    -E discovery.type=single-node -E network.host=127.0.0.1
    -E http.port="$http" -E transport.port="$tport"
    -E path.data="$state/data" -E path.logs="$state/logs"
    -E cluster.name="gomon-rig-$kind"
    -E cluster.routing.allocation.disk.threshold_enabled=false
  )
  if [[ $kind == elasticsearch && -d $home/modules/x-pack-security ]]; then
    args+=(-E xpack.security.enabled=false)
  fi
  log "$engine: starting on 127.0.0.1:$http (JDK $jh, heap $HEAP)"
  if [[ -n $RUN_AS ]]; then
    runuser -u "$RUN_AS" -- env -i "${env[@]}" "$home/bin/$kind" "${args[@]}" >"$state/console.log" 2>&1 </dev/null &
  else
    env -i "${env[@]}" "$home/bin/$kind" "${args[@]}" >"$state/console.log" 2>&1 </dev/null &
  fi
  echo "$http" >"$state/port"
}

wait_one() {
  local engine=$1 dir=$2 state port deadline
  state=$dir/$engine; port=$(cat "$state/port")
  deadline=$((SECONDS + START_TIMEOUT))
  until curl -fsS -m 2 "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      tail -n 40 "$state/console.log" "$state"/logs/*.log >&2 2>/dev/null || true
      die "$engine did not become healthy on port $port within ${START_TIMEOUT}s (logs above, full logs in $state)"
    fi
    if [[ -f $state/pid ]] && ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
      tail -n 40 "$state/console.log" "$state"/logs/*.log >&2 2>/dev/null || true
      die "$engine exited while starting (logs above)"
    fi
    sleep 1
  done
  log "$engine: healthy on 127.0.0.1:$port"
}

stop_one() {
  local engine=$1 dir=$2 state pid
  state=$dir/$engine
  [[ -f $state/pid ]] || return 0
  pid=$(cat "$state/pid")
  if kill -0 "$pid" 2>/dev/null; then
    log "$engine: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$engine: still running after 30s, killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$state/pid"
}

cmd=${1:-}
case $cmd in
  provision)
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the servers"
    mkdir -p "$CACHE"
    for e in $ENGINES; do provision_one "$e"; done
    ;;
  start)
    dir=${2:?usage: rig.sh start DIR}
    mkdir -p "$dir"
    ensure_user
    for e in $ENGINES; do start_one "$e" "$dir"; done
    # Engines start in parallel; wait for each, stopping all on failure.
    for e in $ENGINES; do
      wait_one "$e" "$dir" || { for s in $ENGINES; do stop_one "$s" "$dir"; done; exit 1; }
    done
    for e in $ENGINES; do
      kind=$(kind_of "$e")
      echo "GOMON_TEST_${kind^^}_URL=http://127.0.0.1:$(cat "$dir/$e/port")"
    done
    ;;
  stop)
    dir=${2:?usage: rig.sh stop DIR}
    for e in $ENGINES; do stop_one "$e" "$dir"; done
    # Nothing of this run may survive it.
    if pgrep -f -- "$dir/" >/dev/null 2>&1; then
      log "killing leftover processes of $dir"
      pkill -KILL -f -- "$dir/" || true
    fi
    ;;
  *)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
