#!/usr/bin/env bash
# `npm run test:all`, the README's test command and exactly what CI runs (.ci/run): installs and starts
# everything the tests need, then builds and runs every test. It works on a fresh clone (nothing installed
# yet) and right after the quick start, whose `npm ci` may have skipped the FUSE addon for lack of
# libfuse3-dev. Each .ci/setup.d script installs Debian packages with apt-get and starts servers that are
# not running (so the first run needs root); on a machine that has them all it takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# node-gyp must use the installed Node headers rather than download them.
nodedir="$(npm config get nodedir 2>/dev/null || true)"
if [[ ( -z "$nodedir" || "$nodedir" == "undefined" || "$nodedir" == "null" ) && -f /usr/include/node/node.h ]]; then
  export npm_config_nodedir=/usr
fi

# Sourced, not run: a script exports what the tests need to find its service (FERRY_S3_ENDPOINT, ...). It
# runs under `set -e` like this file, so its first failing command stops everything with the line below.
setup=""
trap 'rc=$?; if ((rc)) && [[ -n "$setup" ]]; then echo "test:all: $setup failed (it installs Debian packages with apt-get and starts servers: run as root, or install what it names)" >&2; fi' EXIT
for setup in .ci/setup.d/*.sh; do
  [[ -e "$setup" ]] || continue
  echo "== setup: $setup"
  # shellcheck source=/dev/null
  source "$setup"
done
setup=""

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "== npm ci (compiles better-sqlite3; the prepare script builds the FUSE addon and dist/)"
  npm ci --no-audit --no-fund
else
  if [[ ! -f src/fuse/native/build/Release/ferry_fuse.node ]]; then
    echo "== building the FUSE addon (libfuse3-dev is installed now)"
    npm run build:fuse
  fi
  if [[ ! -f src/sys/native/build/Release/ferry_sys.node ]]; then
    echo "== building the mount-syscalls addon (src/sys)"
    npm run build:sys
  fi
fi

echo "== npm test"
npm test
