#!/bin/sh
# First start: a cluster with password authentication and the kvserve
# database. Later starts: the cluster in the volume as it is. A first start
# that did not finish (the marker is written last) is done again from an
# empty directory: nothing was stored in it yet.
set -eu
bin=/usr/lib/postgresql/15/bin
if [ ! -e "$PGDATA/kvserve-initialized" ]; then
    find "$PGDATA" -mindepth 1 -delete
    export PGPASSWORD="${KVSERVE_DB_PASSWORD:?set KVSERVE_DB_PASSWORD}"
    printf '%s\n' "$PGPASSWORD" > /tmp/pw
    "$bin/initdb" -D "$PGDATA" -U kvserve --pwfile=/tmp/pw -A scram-sha-256 >/dev/null
    rm /tmp/pw
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # The socket only while the database is made: no replica connects before it exists.
    "$bin/pg_ctl" -D "$PGDATA" -w start -o "-c listen_addresses=''" >/dev/null
    "$bin/psql" -U kvserve -d postgres -c "CREATE DATABASE kvserve" >/dev/null
    "$bin/pg_ctl" -D "$PGDATA" -w stop >/dev/null
    unset PGPASSWORD
    touch "$PGDATA/kvserve-initialized"
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*'
