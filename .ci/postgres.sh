#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 with trust authentication for local connections, as
# the sms-store tests expect (user postgres; each test binary creates and drops its own database).
# Idempotent and quiet: does nothing when something already answers on 5432; otherwise installs
# Debian's `postgresql` package if missing, creates a cluster if there is none, allows trust auth on
# loopback, and starts it. Needs root (or sudo) for apt-get and the cluster.
set -euo pipefail

pg_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
pg_answers && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    echo "PostgreSQL not installed: installing Debian's postgresql package" >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version main"; then
    $SUDO pg_createcluster --port 5432 "$version" main >/dev/null
fi

# Trust on loopback and the local socket: the first matching line wins, so put them first.
hba="/etc/postgresql/$version/main/pg_hba.conf"
for line in "host all all ::1/128 trust" "host all all 127.0.0.1/32 trust" "local all all trust"; do
    $SUDO grep -qxF "$line" "$hba" || $SUDO sed -i "1i $line" "$hba"
done

$SUDO pg_ctlcluster "$version" main start 2>/dev/null || $SUDO pg_ctlcluster "$version" main reload
for _ in $(seq 1 60); do
    pg_answers && exit 0
    sleep 0.5
done
echo "PostgreSQL did not start on 127.0.0.1:5432; see /var/log/postgresql/postgresql-$version-main.log" >&2
exit 1
