# S3 gateway tests (test/gateway-cli.test.ts) drive the gateway with real S3 command-line clients from
# Debian: awscli (aws s3 / s3api) and s3cmd. Sourced by .ci/run; idempotent.
if [[ ! -x /usr/bin/aws || ! -x /usr/bin/s3cmd ]]; then
  echo "== installing S3 clients (awscli, s3cmd)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends awscli s3cmd >/dev/null
fi
/usr/bin/aws --version
