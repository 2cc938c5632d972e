#!/usr/bin/env bash
# Makes sure the PostgreSQL server of the URL given (default: the local one
# on 127.0.0.1:5432) answers. A local server is started when it is installed
# but down, and installed from Debian's packages when absent (as root); a
# remote one is only checked. Used by `make test` (TEST_DATABASE_URL),
# `make up` and `make db` (DATABASE_URL), and .ci/run.
set -euo pipefail

url=${1:-postgres://postgres@127.0.0.1:5432/postgres}
# host and port of postgres://user:pass@host:port/db?params
hostport=${url#*://}
hostport=${hostport#*@}
hostport=${hostport%%/*}
hostport=${hostport%%\?*}
host=${hostport%:*}
port=5432
[ "$host" != "$hostport" ] && port=${hostport##*:}
[ -z "$host" ] && host=127.0.0.1

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

case $host in
  127.0.0.1 | localhost | ::1 | "[::1]") ;;
  *)
    # Someone else's server: never start or install anything for it.
    if command -v pg_isready >/dev/null && ! ready; then
      echo "postgres.sh: $host:$port does not answer" >&2
      exit 1
    fi
    exit 0
    ;;
esac

if command -v pg_isready >/dev/null && ready; then
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed. Install it (Debian: sudo apt-get install -y postgresql), or name another server with TEST_DATABASE_URL (make test) or DATABASE_URL (make up)." >&2
    exit 1
  fi
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "$(id -u)" = 0 ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
else
  pg_ctlcluster "$version" main start || true
fi

for _ in $(seq 1 30); do
  ready && break
  sleep 1
done
ready || { echo "postgres.sh: PostgreSQL did not come up on $host:$port" >&2; exit 1; }

# Tests and the local stack connect as postgres without a password over TCP.
hba=$(ls /etc/postgresql/"$version"/main/pg_hba.conf)
if ! psql -h "$host" -p "$port" -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "postgres.sh: enabling trust auth for local TCP connections in $hba" >&2
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  else
    echo "postgres.sh: cannot connect as postgres to $host:$port; name another server with TEST_DATABASE_URL (make test) or DATABASE_URL (make up)" >&2
    exit 1
  fi
fi
