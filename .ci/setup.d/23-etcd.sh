# etcd for the etcd metadata engine's tests (sourced by .ci/run): install Debian's etcd-server and
# etcd-client if missing, start a single-member etcd on 127.0.0.1:2379 if it does not answer, then wait
# until it does. Limits are raised over etcd's defaults (128 operations and 1.5 MiB per transaction,
# 2 GiB of storage) as docs/engines.md advises for a FerryFS volume.
etcd_ok() { ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --command-timeout=2s endpoint health >/dev/null 2>&1; }
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
  echo "== installing etcd-server etcd-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The package would start its own etcd under systemd where there is one; ours is started below.
  apt-get install -y -qq --no-install-recommends etcd-server etcd-client >/dev/null
fi
if ! etcd_ok; then
  echo "== starting etcd on 127.0.0.1:2379"
  mkdir -p /var/lib/ferry-etcd /var/log/ferry-etcd
  nohup etcd --name ci --data-dir /var/lib/ferry-etcd \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster ci=http://127.0.0.1:2380 \
    --max-txn-ops 16384 --max-request-bytes 33554432 --quota-backend-bytes 8589934592 \
    --auto-compaction-mode revision --auto-compaction-retention 100000 \
    >/var/log/ferry-etcd/ci.log 2>&1 </dev/null &
  for _ in $(seq 1 100); do etcd_ok && break; sleep 0.1; done
  etcd_ok || { echo "etcd did not start; see /var/log/ferry-etcd/ci.log" >&2; return 1 2>/dev/null || exit 1; }
fi
unset -f etcd_ok
