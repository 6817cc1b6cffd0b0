#!/bin/sh
# A throw-away PostgreSQL server for the tests, on 127.0.0.1 and a free port.
#   pgctl.sh start DIR   initdb + start; writes DIR/url (postgresql://postgres@127.0.0.1:PORT)
#   pgctl.sh stop DIR    stops the server and removes its data
# The cluster lives in a fresh directory under /tmp (named in DIR/datadir) so the
# postgres user can reach it; as root, the server runs as postgres. fsync is off: the
# tests need a database, not durability.
set -eu
cmd=${1:?start|stop}
dir=${2:?DIR}
bin=${FAXD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bin/pg_ctl" ] || { echo "pgctl: no PostgreSQL server (install postgresql)" >&2; exit 1; }

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
    [ -f "$dir/datadir" ] || return 0
    data=$(cat "$dir/datadir")
    as_pg "$bin/pg_ctl" -D "$data/db" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$data"
    rm -f "$dir/datadir" "$dir/url"
}

case "$cmd" in
start)
    mkdir -p "$dir"
    stop
    data=$(mktemp -d /tmp/faxd-pg-XXXXXX)
    chmod 755 "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data"
    echo "$data" >"$dir/datadir"
    as_pg "$bin/initdb" -D "$data/db" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log" >&2; exit 1; }
    for try in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_pg "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 -o \
            "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 -c shared_buffers=64MB" \
            start >/dev/null 2>&1; then
            echo "postgresql://postgres@127.0.0.1:$port" >"$dir/url"
            exit 0
        fi
    done
    cat "$data/server.log" >&2
    exit 1
    ;;
stop) stop ;;
*) echo "usage: pgctl.sh start|stop DIR" >&2; exit 2 ;;
esac
