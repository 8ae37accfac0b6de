# The WebHDFS tests (test/webhdfs-protocol.test.ts) drive the server with curl, as the Hadoop docs' examples
# do (two-step CREATE with -L, -T uploads with Expect: 100-continue). Sourced by scripts/test-all.sh; idempotent.
if [[ ! -x /usr/bin/curl ]]; then
  echo "== installing curl"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends curl ca-certificates >/dev/null
fi
