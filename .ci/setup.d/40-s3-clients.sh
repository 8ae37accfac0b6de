# S3 gateway tests (test/gateway-cli.test.ts, test/gateway-boto3.test.ts, test/gateway-meta-clients.test.ts,
# test/gateway-rclone.test.ts, test/gateway-s3fs.test.ts) drive the gateway with real S3 clients from Debian:
# awscli (aws s3 / s3api), s3cmd, boto3 for Debian's /usr/bin/python3, rclone, and s3fs (a FUSE mount of a bucket). Sourced by
# .ci/run; idempotent.
if [[ ! -x /usr/bin/aws || ! -x /usr/bin/s3cmd || ! -x /usr/bin/rclone || ! -x /usr/bin/s3fs ]] || ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
  echo "== installing S3 clients (awscli, s3cmd, python3-boto3, rclone, s3fs)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends awscli s3cmd python3-boto3 rclone s3fs >/dev/null
fi
/usr/bin/aws --version
# sed reads all of it: with head, rclone ends on SIGPIPE, which pipefail makes a failure.
/usr/bin/rclone version | sed -n 1p
