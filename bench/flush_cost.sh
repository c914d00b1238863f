#!/usr/bin/env bash
# bench/flush_cost.sh: what the write-behind's flushes cost a database primary, in its CPU
# (bench/flush_cost.cpp): one more numbered transaction for the same rows, which is what each
# worker host adds a few times a second; a row; a write of its own. Against a primary with a
# row-based binary log and a GTID replica attached, as `bench/run --replica` runs them, made
# afresh in build-bench/bench-var-flush/ and stopped at the end; the Release build in
# build-bench/ as bench/run makes it. Not part of tests/run.
#
#   bench/flush_cost.sh [ROUNDS]    rounds of every shape, interleaved (default 5)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-5}
case "$rounds" in
    '' | *[!0-9]*) echo "usage: bench/flush_cost.sh [ROUNDS]" >&2; exit 2 ;;
esac
BUILD_DIR="$ROOT/build-bench"
STATE_DIR="$BUILD_DIR/bench-var-flush"
HTTP_PORT=${BENCH_HTTP_PORT:-18480}
DB_NAME=tracker CMAKE_BUILD_TYPE=Release
export MARIADB_PRIMARY_PORT=$((HTTP_PORT + 20)) MARIADB_REPLICA_PORT=$((HTTP_PORT + 21))
export ROOT BUILD_DIR STATE_DIR HTTP_PORT DB_NAME CMAKE_BUILD_TYPE
# shellcheck source=../deploy/lib/services.sh
source "$ROOT/deploy/lib/services.sh"

tracker_install_packages
tracker_build

cleanup() {
    mariadb_replica_stop || true
    mariadb_primary_stop || true
}
trap cleanup EXIT
rm -rf "$STATE_DIR"
mkdir -p "$STATE_DIR"
mariadb_primary_start
# schema_apply and tracker_mariadb speak to STATE_DIR/mysql.sock: here, the primary.
ln -sfn primary/mysql.sock "$STATE_DIR/mysql.sock"
schema_apply
mariadb_replica_start
replication_wait 60
"$BUILD_DIR/bench/flush_cost" "$STATE_DIR/primary/mysql.sock" "$DB_NAME" \
    "$(cat "$STATE_DIR/primary/mysqld.pid")" "$rounds"
