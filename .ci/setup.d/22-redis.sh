# Redis for the Redis metadata engine's tests (sourced by .ci/run): install Debian's redis-server if missing,
# start it on 127.0.0.1:6379 without persistence if it does not answer PING, then wait until it does.
redis_ping() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "== installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi
if ! redis_ping; then
  echo "== starting redis-server on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 100); do redis_ping && break; sleep 0.1; done
  redis_ping || { echo "redis-server did not start; see /var/log/redis/ci.log" >&2; return 1 2>/dev/null || exit 1; }
fi
unset -f redis_ping
