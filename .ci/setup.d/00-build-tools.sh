# A C++ toolchain and Python for node-gyp (better-sqlite3 compiles from source when its prebuilt download is
# not reachable, and the FUSE addon always does), and /usr/bin/python3 for the tests that drive POSIX calls
# Node lacks (test/helpers/tools.ts). Sourced by scripts/test-all.sh; idempotent.
build_pkgs=()
for tool in make g++; do command -v "$tool" >/dev/null 2>&1 || build_pkgs+=(build-essential); done
[[ -x /usr/bin/python3 ]] || build_pkgs+=(python3)
# The TLS tests make their CA and certificates with the openssl CLI.
[[ -x /usr/bin/openssl ]] || build_pkgs+=(openssl)
if ((${#build_pkgs[@]})); then
  echo "== installing build tools (${build_pkgs[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${build_pkgs[@]}" | sort -u) >/dev/null
fi
unset build_pkgs tool
