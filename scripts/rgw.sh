#!/usr/bin/env bash
# A one-node Ceph cluster (one monitor, one memstore OSD, no auth between daemons) with a RADOS Gateway,
# for the S3 backend's tests and benchmarks. Data lives in memory (memstore) and in $FERRY_RGW_DIR.
#
#   bash scripts/rgw.sh start    # start (idempotent), create the test S3 user, print the endpoint
#   bash scripts/rgw.sh stop     # stop the daemons and remove their data
#   bash scripts/rgw.sh status   # say whether the gateway answers
#
# Needs Debian's ceph-mon ceph-osd radosgw ceph-common (installed if missing, as root).
set -euo pipefail

DIR="${FERRY_RGW_DIR:-/var/lib/ferry-rgw}"
PORT="${FERRY_RGW_PORT:-7480}"
ACCESS_KEY="${FERRY_RGW_ACCESS_KEY:-FERRYTESTACCESSKEY01}"
SECRET_KEY="${FERRY_RGW_SECRET_KEY:-ferry-test-secret-key-0123456789abcdefgh}"
ENDPOINT="http://127.0.0.1:${PORT}"
CONF="$DIR/ceph.conf"

log() { echo "rgw: $*" >&2; }

answers() {
  # Any HTTP reply (an anonymous ListBuckets answers 200 with an empty list) means the gateway is up.
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$ENDPOINT/" 2>/dev/null | grep -q '^[1-5]'
}

install_packages() {
  if command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null; then
    return
  fi
  log "installing ceph-mon ceph-osd radosgw ceph-common (about 20 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw ceph-common curl >/dev/null
}

write_conf() {
  local fsid="$1"
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
# Without auth there is no session key, so every connection must use crc mode (daemons default to secure).
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd data = $DIR/\$name
mon data = $DIR/\$name
keyring = /dev/null

[client.rgw.ferry]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
rgw thread pool size = 128
EOF
}

wait_for() {
  local what="$1" secs="$2"
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "$what did not come up within ${secs}s (logs in $DIR/log)"
  return 1
}

start() {
  if answers; then
    log "already running at $ENDPOINT"
    echo "$ENDPOINT"
    return
  fi
  install_packages
  local t0=$SECONDS
  stop_daemons
  rm -rf "$DIR"
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon.a" "$DIR/osd.0" "$DIR/rgw"
  local fsid
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  write_conf "$fsid"

  monmaptool --create --fsid "$fsid" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >/dev/null 2>&1
  ceph-mon -c "$CONF" -i a 2>>"$DIR/log/daemons.out"
  wait_for "the monitor" 30 ceph -c "$CONF" --connect-timeout 2 mon stat

  local uuid id
  uuid="$(cat /proc/sys/kernel/random/uuid)"
  id="$(ceph -c "$CONF" osd new "$uuid")"
  ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph-osd -c "$CONF" -i "$id" 2>>"$DIR/log/daemons.out"
  wait_for "the OSD" 30 sh -c "ceph -c '$CONF' osd stat | grep -q '1 up'"

  # In the foreground under setsid: a gateway that cannot reach the monitor then never blocks this script.
  setsid radosgw -c "$CONF" -n client.rgw.ferry -f >>"$DIR/log/radosgw.out" 2>&1 </dev/null &
  echo $! >"$DIR/run/client.rgw.ferry.pid"
  wait_for "radosgw" 60 answers
  radosgw-admin -c "$CONF" user create --uid=ferry --display-name="FerryFS tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null 2>&1 ||
    radosgw-admin -c "$CONF" user info --uid=ferry >/dev/null
  log "ready in $((SECONDS - t0)) s: endpoint $ENDPOINT, access key $ACCESS_KEY"
  echo "$ENDPOINT"
}

stop_daemons() {
  # Only our own daemons: the ones whose pid files are in our run directory.
  for pidfile in "$DIR"/run/*.pid; do
    [[ -e "$pidfile" ]] || continue
    local pid
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) start ;;
  stop)
    stop_daemons
    rm -rf "$DIR"
    log "stopped"
    ;;
  status)
    if answers; then echo "running at $ENDPOINT"; else echo "not running (start it with: bash scripts/rgw.sh start)"; exit 1; fi
    ;;
  *)
    echo "usage: bash scripts/rgw.sh start|stop|status" >&2
    exit 2
    ;;
esac
