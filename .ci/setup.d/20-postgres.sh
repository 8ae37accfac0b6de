# PostgreSQL for the postgres engine tests (sourced by .ci/run): installs Debian's package when missing,
# trusts TCP connections from 127.0.0.1 (a throwaway CI server), starts the cluster without systemd and
# creates database `test` and role `root`. Idempotent; returns at once when everything is there.

ferry_pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 -t 1 >/dev/null 2>&1; }
ferry_pg_sql() { psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -Atqc "$1"; }

ferry_setup_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "   installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  if ! ls /etc/postgresql/*/main/postgresql.conf >/dev/null 2>&1; then
    # The package normally creates cluster "main"; make it when it did not.
    pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main >/dev/null
  fi
  local ver hba
  ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! grep -q '^host[[:space:]]\+all[[:space:]]\+all[[:space:]]\+127.0.0.1/32[[:space:]]\+trust' "$hba"; then
    # First matching line wins: put trust for 127.0.0.1 first.
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    ferry_pg_ready && pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  fi
  if ! ferry_pg_ready; then
    echo "   starting postgresql $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    local i
    for i in $(seq 1 60); do ferry_pg_ready && break; sleep 0.5; done
    ferry_pg_ready || { echo "PostgreSQL did not start (see /var/log/postgresql/)" >&2; return 1; }
  fi
  [[ "$(ferry_pg_sql "SELECT 1 FROM pg_database WHERE datname = 'test'")" == 1 ]] || ferry_pg_sql 'CREATE DATABASE test'
  [[ "$(ferry_pg_sql "SELECT 1 FROM pg_roles WHERE rolname = 'root'")" == 1 ]] || ferry_pg_sql 'CREATE ROLE root SUPERUSER LOGIN'
  echo "   postgresql ready: postgres://postgres@127.0.0.1:5432/test"
}

ferry_setup_postgres
