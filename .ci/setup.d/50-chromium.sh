# Debian's chromium, for the dashboard's browser test (test/dashboard-browser.test.ts drives it with
# playwright-core, which brings no browser of its own). Sourced by scripts/test-all.sh; idempotent.
if [[ ! -x /usr/bin/chromium ]]; then
  echo "== installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
