# Redis Sentinel for the failover test (test/failure-redis-sentinel.test.ts), sourced by .ci/run: installs
# Debian's redis-sentinel when missing. Nothing is started here: the test runs its own master, replica and
# three sentinels on free loopback ports in a temporary directory (the shared Redis on 6379 is never touched).
if ! command -v redis-sentinel >/dev/null 2>&1; then
  echo "== installing redis-sentinel"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-sentinel >/dev/null
fi
