#!/usr/bin/env bash
# The test bed's builds in the background while `make test` runs the static checks: a cold run spends most of
# its time compiling Go (the two clusters' control planes, the sidecars, Velero) and the checks use about one
# core, so the two overlap instead of adding up.
#
#   hack/prebuild.sh start   start build.sh, build-mover.sh and (unless LIFEBOAT_VELERO_PEER=0) build-velero.sh
#   hack/prebuild.sh wait    wait for them; on a failure print the log's tail (`testbed up` then builds again and
#                            fails with the build's own message)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}
log=$cache/prebuild.log
pidfile=$cache/prebuild.pid
mkdir -p "$cache"
case ${1:-} in
  start)
    scripts=(build.sh build-mover.sh)
    if [ "${LIFEBOAT_VELERO_PEER:-1}" != 0 ]; then scripts+=(build-velero.sh); fi
    rm -f "$cache/prebuild.status"
    # setsid: a session of its own, detached from make's terminal; `run` writes how it ended.
    setsid "$0" run "${scripts[@]}" > "$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    echo "prebuild: building the test bed in the background (log: $log)"
    ;;
  run)
    shift
    status=0
    for script in "$@"; do
      "$root/tests/testbed/$script" > /dev/null || { status=1; break; }
    done
    echo "$status" > "$cache/prebuild.status"
    ;;
  wait)
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    while kill -0 "$pid" 2>/dev/null; do sleep 2; done
    rm -f "$pidfile"
    if [ "$(cat "$cache/prebuild.status" 2>/dev/null)" != 0 ]; then
      echo "prebuild: a background build failed; its log ends:" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    echo "prebuild: done"
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
