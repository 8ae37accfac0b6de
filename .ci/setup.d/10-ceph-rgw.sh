# Sourced by .ci/run: a one-node Ceph cluster with a RADOS Gateway for the S3 backend's tests
# (test/object-s3.test.ts). Installs Debian's ceph packages if missing (~20 s) and starts the cluster
# if the gateway does not answer (~15 s); when it is already running this takes a fraction of a second.
bash scripts/rgw.sh start >/dev/null
export FERRY_S3_ENDPOINT="${FERRY_S3_ENDPOINT:-http://127.0.0.1:7480}"
