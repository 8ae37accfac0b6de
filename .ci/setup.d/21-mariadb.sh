# MariaDB for the mysql engine tests (sourced by .ci/run): installs Debian's package when missing, creates
# the data directory, starts mariadbd without systemd (data and socket directories owned by mysql), and
# makes root without a password over TCP from 127.0.0.1 plus database `test`. Idempotent; returns at once
# when everything is there.

ferry_my_ready() { mariadb-admin -h 127.0.0.1 -P 3306 -uroot --connect-timeout=1 ping >/dev/null 2>&1; }

ferry_setup_mariadb() {
  if [[ ! -x /usr/sbin/mariadbd ]]; then
    echo "   installing mariadb-server (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null
  fi
  if ! ferry_my_ready && ! mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    if [[ ! -d /var/lib/mysql/mysql ]]; then
      echo "   creating the mariadb data directory"
      install -d -o mysql -g mysql -m 0750 /var/lib/mysql
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    fi
    chown -R mysql:mysql /var/lib/mysql
    echo "   starting mariadbd"
    # A throwaway CI server: the redo log is flushed once a second instead of at every commit.
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
      --user=mysql --bind-address=127.0.0.1 --port=3306 --innodb-flush-log-at-trx-commit=2
    local i
    for i in $(seq 1 120); do mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 && break; ferry_my_ready && break; sleep 0.5; done
  fi
  if ! ferry_my_ready; then
    # Fresh install: root@localhost authenticates by unix socket; allow root from 127.0.0.1 without a password.
    mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(''); CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES" \
      || { echo "MariaDB did not start or refuses root (see /var/lib/mysql/*.err)" >&2; return 1; }
  fi
  mariadb -h 127.0.0.1 -P 3306 -uroot -e 'CREATE DATABASE IF NOT EXISTS test'
  echo "   mariadb ready: mysql://root@127.0.0.1:3306/test"
}

ferry_setup_mariadb
