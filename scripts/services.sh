#!/usr/bin/env bash
# Installs (apt) and starts the servers Quark's tests and benchmarks compare against:
# PostgreSQL and Redis, each on its unix socket and on 127.0.0.1, both durable (fsync on every
# commit). Idempotent: a server already answering on both is left alone (a Redis started
# without its socket is restarted with it). Fails loudly, saying why.
#
#   PostgreSQL: host=/var/run/postgresql user=quark password=quark dbname=quark (a pg_hba.conf
#               line lets quark log in over the socket with its password), and
#               postgres://quark:quark@127.0.0.1:5432/quark; cluster defaults: fsync on,
#               synchronous_commit on, commit_delay 0
#   Redis:      redis+unix:///var/tmp/quark-redis/redis.sock and redis://127.0.0.1:6399/
#               (our own instance: appendonly yes, appendfsync always)
#
# Usage: scripts/services.sh [start|stop|status]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

REDIS_PORT=${QUARK_REDIS_PORT:-6399}
REDIS_DIR=${QUARK_REDIS_DIR:-/var/tmp/quark-redis}
REDIS_SOCK="$REDIS_DIR/redis.sock"
PG_SOCK_DIR=/var/run/postgresql

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
redis_sock_up() { redis-cli -s "$REDIS_SOCK" ping 2>/dev/null | grep -q PONG; }
pg_up() { PGPASSWORD=quark psql -h 127.0.0.1 -U quark -d quark -tAc 'select 1' >/dev/null 2>&1; }
pg_sock_up() {
  PGPASSWORD=quark psql -h "$PG_SOCK_DIR" -U quark -d quark -tAc 'select 1' >/dev/null 2>&1
}

# Debian's pg_hba.conf lets local (socket) logins in by OS user name only ("peer"); the
# harness logs in as quark with its password, so one line ahead of the defaults allows that.
allow_pg_socket_login() {
  pg_sock_up && return
  local hba
  hba=$(su postgres -c "psql -tAc 'show hba_file'") || die "cannot ask PostgreSQL for pg_hba.conf"
  if ! grep -qE '^local[[:space:]]+quark[[:space:]]+quark[[:space:]]' "$hba"; then
    sed -i '0,/^local/s//local   quark           quark                                   scram-sha-256\n&/' "$hba" \
      || die "could not edit $hba"
  fi
  su postgres -c "psql -tAc 'select pg_reload_conf()'" >/dev/null || die "could not reload PostgreSQL"
  for _ in $(seq 1 20); do pg_sock_up && break; sleep 0.25; done
  pg_sock_up || die "quark cannot log in over $PG_SOCK_DIR (check $hba)"
}

start_postgres() {
  if pg_up; then
    allow_pg_socket_login
    say "PostgreSQL already up on $PG_SOCK_DIR and 127.0.0.1:5432"
    return
  fi
  need_apt postgresql
  local ver
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  [[ -n "$ver" ]] || die "no PostgreSQL version under /usr/lib/postgresql after install"
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
    pg_createcluster "$ver" main >/dev/null || die "pg_createcluster $ver main failed"
  fi
  pg_ctlcluster "$ver" main start 2>/dev/null || true
  for _ in $(seq 1 60); do
    if su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1 \
    || die "PostgreSQL $ver did not start: see /var/log/postgresql/postgresql-$ver-main.log"
  su postgres -c "psql -qtAc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='quark') THEN CREATE ROLE quark LOGIN SUPERUSER PASSWORD 'quark'; END IF; END \\\$\\\$;\"" \
    || die "could not create role quark"
  if ! su postgres -c "psql -tAc \"select 1 from pg_database where datname='quark'\"" | grep -q 1; then
    su postgres -c "createdb -O quark quark" || die "could not create database quark"
  fi
  pg_up || die "PostgreSQL is running but quark@127.0.0.1/quark does not answer (check pg_hba.conf)"
  allow_pg_socket_login
  say "PostgreSQL $ver up on $PG_SOCK_DIR and 127.0.0.1:5432 (fsync on, synchronous_commit on)"
}

start_redis() {
  if redis_up && redis_sock_up; then
    say "Redis already up on $REDIS_SOCK and 127.0.0.1:$REDIS_PORT"
    return
  fi
  if redis_up; then
    # Started before the socket was part of the setup: unixsocket cannot be set at run time.
    say "Redis is up without $REDIS_SOCK: restarting it with the socket"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 40); do redis_up || break; sleep 0.25; done
  fi
  need_apt redis-server
  mkdir -p "$REDIS_DIR"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --unixsocket "$REDIS_SOCK" --unixsocketperm 770 \
    --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
    --appendonly yes --appendfsync always --save '' \
    || die "redis-server failed to start: see $REDIS_DIR/redis.log"
  for _ in $(seq 1 40); do redis_up && redis_sock_up && break; sleep 0.25; done
  redis_up || die "Redis did not answer on 127.0.0.1:$REDIS_PORT: see $REDIS_DIR/redis.log"
  redis_sock_up || die "Redis did not answer on $REDIS_SOCK: see $REDIS_DIR/redis.log"
  say "Redis up on $REDIS_SOCK and 127.0.0.1:$REDIS_PORT (appendonly yes, appendfsync always)"
}

stop_all() {
  redis_up && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for v in $(ls /usr/lib/postgresql 2>/dev/null); do pg_ctlcluster "$v" main stop 2>/dev/null || true; done
  say "services stopped"
}

case "${1:-start}" in
  start) start_postgres; start_redis ;;
  stop) stop_all ;;
  status)
    pg_up && say "PostgreSQL: up on TCP" || say "PostgreSQL: down on TCP"
    pg_sock_up && say "PostgreSQL: up on $PG_SOCK_DIR" || say "PostgreSQL: down on $PG_SOCK_DIR"
    redis_up && say "Redis: up on TCP" || say "Redis: down on TCP"
    redis_sock_up && say "Redis: up on $REDIS_SOCK" || say "Redis: down on $REDIS_SOCK" ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac
