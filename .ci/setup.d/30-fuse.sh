# FUSE mount (issue 6): libfuse3 headers for the addon, fusermount3 and /dev/fuse for the tests, fio for
# the data checks, bindfs as the Debian FUSE peer of the benchmark, acl (setfacl/getfacl) for the POSIX
# ACL tests. Sourced by .ci/run; idempotent.
fuse_pkgs=()
command -v fusermount3 >/dev/null 2>&1 || fuse_pkgs+=(fuse3)
[[ -f /usr/include/fuse3/fuse_lowlevel.h ]] || fuse_pkgs+=(libfuse3-dev)
command -v pkg-config >/dev/null 2>&1 || fuse_pkgs+=(pkg-config)
command -v fio >/dev/null 2>&1 || fuse_pkgs+=(fio)
command -v bindfs >/dev/null 2>&1 || fuse_pkgs+=(bindfs)
command -v setfacl >/dev/null 2>&1 || fuse_pkgs+=(acl)
if ((${#fuse_pkgs[@]})); then
  echo "== installing ${fuse_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${fuse_pkgs[@]}" >/dev/null
fi
# Containers often lack the device node though the kernel has FUSE.
if [[ ! -e /dev/fuse ]]; then
  modprobe fuse 2>/dev/null || true
  [[ -e /dev/fuse ]] || mknod -m 666 /dev/fuse c 10 229 2>/dev/null || echo "== warning: /dev/fuse is missing; FUSE tests will fail"
fi
unset fuse_pkgs
