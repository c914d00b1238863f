# shellcheck shell=bash
# deploy/lib/services.sh: start and stop a private tracker stack (MariaDB,
# the tracker-fcgi workers, nginx) inside one state directory, for
# deploy/quickstart and tests/run. Source it; it sets no shell options and
# every function returns non-zero (after printing the relevant log tail)
# instead of exiting, so it is safe under `set -euo pipefail` and in `if`.
#
# The caller sets, before calling:
#   ROOT        repository root (for sql/, nginx.conf.example)
#   STATE_DIR   absolute path; everything the stack writes lives in it
#   HTTP_PORT   nginx port on 127.0.0.1 (and [::1] when available)
#   BUILD_DIR   CMake build directory (tracker-fcgi is $BUILD_DIR/app/)
# Optional:
#   DB_NAME              database name                      (tracker)
#   TRACKER_CONFIG       worker config    ($STATE_DIR/tracker.json)
#   TRACKER_FCGI_SOCKET  worker socket    ($STATE_DIR/tracker-fcgi.sock)
#   TRACKER_FCGI_ARGS    extra tracker-fcgi arguments, split on spaces
#   CMAKE_BUILD_TYPE     (Release)   TRACKER_CMAKE_ARGS (split on spaces)
#   TRACKER_BUILD_JOBS   (nproc)
#   TRACKER_NGINX_IPV6   auto | 1 | 0: also listen on [::1]   (auto)
#   TRACKER_NGINX_EXTRA_CONF  a file included in http {} too (the benchmark's baselines)
#   TRACKER_NGINX_WORKERS     nginx worker_processes            (auto)
#   TRACKER_CONFIG_EXTRA      JSON members added to a newly written worker config
#                             (e.g. "\"swarmCacheMs\": 0"): the benchmark's variants
#   TRACKER_MARIADB_ARGS      extra mariadbd options, split on spaces (the benchmark's
#                             big fill sizes the buffer pool with them)
#   MARIADB_START_TIMEOUT (30) WORKERS_START_TIMEOUT (10) seconds
#
# Functions: tracker_install_packages, tracker_build, mariadb_start,
# mariadb_stop, schema_apply, tracker_write_config, workers_start,
# workers_stop, nginx_start, nginx_stop, tracker_stop_all, tracker_status;
# helpers for tests: tracker_mariadb [ARGS] (client on the private server),
# tracker_http_status PATH [UA] (the status code nginx answers). A primary and
# a replica (below, "MariaDB primary + replica"): mariadb_primary_start,
# mariadb_primary_stop, mariadb_replica_start, mariadb_replica_stop,
# replication_stop, replication_start, replication_wait, tracker_mariadb_on.
#
# Files in STATE_DIR: mysql/ (datadir), mysql.sock, mysqld.pid, mysqld.log,
# tracker.json, tracker-fcgi.{sock,pid,log}, nginx/ (nginx.conf,
# tracker-server.conf made from nginx.conf.example, nginx.pid, logs/).
#
# Processes are found through their pid files and checked against their
# command line before any signal: never by name, other stacks may run here.

# ---------------------------------------------------------------- helpers --

_tk_log() { printf '[services] %s\n' "$*" >&2; }

_tk_err() { printf '[services] ERROR: %s\n' "$*" >&2; }

# _tk_require VAR...: every VAR set and non-empty; STATE_DIR absolute.
_tk_require() {
    local v
    for v in "$@"; do
        if [ -z "${!v:-}" ]; then
            _tk_err "$v is not set (the caller sets ROOT, STATE_DIR, HTTP_PORT, BUILD_DIR)"
            return 1
        fi
    done
    case " $* " in
        *" STATE_DIR "*)
            case "$STATE_DIR" in
                /*) ;;
                *) _tk_err "STATE_DIR must be absolute: $STATE_DIR"; return 1 ;;
            esac ;;
    esac
    return 0
}

# _tk_tail FILE [N]: the end of a log, framed, on stderr: at most N lines,
# and none from before the last "==== ... starting" line _tk_spawn wrote.
_tk_tail() {
    local f=$1 n=${2:-40}
    if [ -s "$f" ]; then
        printf '[services] ---- %s (last run, at most %s lines) ----\n' "$f" "$n" >&2
        awk '/^==== .*: starting / { n = 0 } { buf[n++] = $0 }
             END { for (i = (n > max ? n - max : 0); i < n; i++) print buf[i] }' \
            max="$n" "$f" >&2 || true
        printf '[services] ---- end of %s ----\n' "$f" >&2
    else
        printf '[services] (%s is empty or missing)\n' "$f" >&2
    fi
}

# _tk_proc_matches PID PATTERN: PID is a live (non-zombie) process whose
# command line contains PATTERN as a whole argument, or as the end of one
# (PATTERN "--datadir=/x/mysql" does not match "--datadir=/x/mysql2").
_tk_proc_matches() {
    local pid=$1 pattern=$2 state cmdline
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/stat" ]; then
        # A zombie answers kill -0 but is gone for our purposes.
        state=$(sed -e 's/^.*) //' -e 's/ .*//' "/proc/$pid/stat" 2>/dev/null) || state=
        [ "$state" = Z ] && return 1
    fi
    if [ -r "/proc/$pid/cmdline" ]; then
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
        case "$cmdline" in *"$pattern "*) ;; *) return 1 ;; esac
    fi
    return 0
}

# _tk_pid_alive PIDFILE PATTERN: print the pid and succeed when the pid file
# names a live process whose command line contains PATTERN.
_tk_pid_alive() {
    local pidfile=$1 pattern=$2 pid
    [ -s "$pidfile" ] || return 1
    pid=$(head -n 1 -- "$pidfile" 2>/dev/null | tr -d '[:space:]') || return 1
    _tk_proc_matches "$pid" "$pattern" || return 1
    printf '%s\n' "$pid"
}

# _tk_wait_gone PID PATTERN SECONDS: wait until PID has exited.
_tk_wait_gone() {
    local pid=$1 pattern=$2 secs=$3 i=0
    while _tk_proc_matches "$pid" "$pattern"; do
        [ "$i" -ge $((secs * 10)) ] && return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 0
}

# _tk_stop_pid NAME PID PATTERN SIGNAL SECONDS: signal, wait, then SIGKILL.
_tk_stop_pid() {
    local name=$1 pid=$2 pattern=$3 sig=$4 secs=$5
    _tk_log "stopping $name (pid $pid, SIG$sig)"
    kill -s "$sig" "$pid" 2>/dev/null || true
    _tk_wait_gone "$pid" "$pattern" "$secs" && return 0
    _tk_err "$name (pid $pid) still running after ${secs}s: sending SIGKILL"
    kill -s KILL "$pid" 2>/dev/null || true
    _tk_wait_gone "$pid" "$pattern" 5 && return 0
    _tk_err "$name (pid $pid) did not die"
    return 1
}

# _tk_spawn PIDFILE LOGFILE CMD [ARG...]: run CMD in the background, detached
# from the caller's session (it outlives the script, and a Ctrl-C in the
# terminal does not reach it), stdin /dev/null, output appended to LOGFILE.
# The pid file is written by the process itself just before exec, so it
# names CMD's own pid.
_tk_spawn() {
    local pidfile=$1 logfile=$2 i=0
    shift 2
    rm -f -- "$pidfile"
    printf '==== %s: starting %s\n' "$(date '+%F %T')" "$*" >>"$logfile"
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner sh
    local script='echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"'
    if command -v setsid >/dev/null 2>&1; then
        setsid -f sh -c "$script" "$pidfile" "$@" </dev/null >>"$logfile" 2>&1
    else
        nohup sh -c "$script" "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 &
    fi
    while [ ! -s "$pidfile" ]; do
        if [ "$i" -ge 50 ]; then
            _tk_err "$1 did not start (no pid file $pidfile after 5s)"
            _tk_tail "$logfile"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 0
}

# _tk_sock_ok PATH: a unix socket path must fit in sun_path (107 bytes).
_tk_sock_ok() {
    if [ "${#1}" -gt 107 ]; then
        _tk_err "socket path longer than 107 bytes (unix socket limit): $1; use a shorter STATE_DIR"
        return 1
    fi
}

# _tk_bin NAME [FALLBACK...]: the path of a program, also looking in sbin
# directories that a non-root PATH may lack.
_tk_bin() {
    local n d
    for n in "$@"; do
        if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
        for d in /usr/sbin /sbin /usr/local/sbin; do
            if [ -x "$d/$n" ]; then printf '%s\n' "$d/$n"; return 0; fi
        done
    done
    _tk_err "program not found: $* (run tracker_install_packages)"
    return 1
}

# _tk_json_str STRING: STRING as a JSON string literal.
_tk_json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# _tk_sed_repl STRING: STRING escaped for the replacement side of s|...|...|.
_tk_sed_repl() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# tracker_http_status PATH [USER_AGENT] [HOST] [PORT]: the HTTP status code
# nginx answers for GET PATH (default host 127.0.0.1, port HTTP_PORT); prints
# nothing and fails when nothing answers. Pure bash, no curl needed.
tracker_http_status() {
    local path=$1 ua=${2:-tracker-services-check/1.0} host=${3:-127.0.0.1}
    local port=${4:-${HTTP_PORT:-}}
    [ -n "$port" ] || { _tk_err "tracker_http_status: no port (HTTP_PORT)"; return 1; }
    (
        exec 9<>"/dev/tcp/$host/$port" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n' \
            "$path" "$host" "$ua" >&9
        line=
        IFS= read -r -t 5 line <&9 || true
        exec 9>&-
        line=${line%$'\r'}
        case "$line" in
            HTTP/*' '[0-9][0-9][0-9]*) code=${line#* }; printf '%s\n' "${code%% *}" ;;
            *) exit 1 ;;
        esac
    ) 2>/dev/null
}

# -------------------------------------------------------------- packages --

TRACKER_PACKAGES=(cmake g++ make pkg-config libfcgi-dev libmysqlcppconn-dev libsystemd-dev
    zlib1g-dev nlohmann-json3-dev catch2 libssl-dev mariadb-server mariadb-client
    nginx-light python3)

_tk_pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# tracker_install_packages: apt-get install what is missing, nothing if
# everything is there.
tracker_install_packages() {
    local p alt found missing=()
    if ! command -v dpkg-query >/dev/null 2>&1; then
        _tk_log "not a Debian system (no dpkg-query): install yourself: ${TRACKER_PACKAGES[*]}"
        return 0
    fi
    for p in "${TRACKER_PACKAGES[@]}"; do
        if [ "$p" = nginx-light ]; then
            # Any Debian nginx flavour will do: never swap a site's nginx-full
            # for nginx-light behind its back.
            found=
            for alt in nginx-light nginx-core nginx-full nginx-extras nginx; do
                if _tk_pkg_installed "$alt"; then found=1; break; fi
            done
            [ -n "$found" ] && continue
        elif _tk_pkg_installed "$p"; then
            continue
        fi
        missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        _tk_log "all required packages are installed"
        return 0
    fi
    local cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        _tk_err "missing packages: ${missing[*]}"
        _tk_err "as root, run:  $cmd"
        return 1
    fi
    _tk_log "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update || { _tk_err "apt-get update failed"; return 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
        { _tk_err "apt-get install failed: $cmd"; return 1; }
}

# ----------------------------------------------------------------- build --

# tracker_build: configure and build into BUILD_DIR.
tracker_build() {
    _tk_require ROOT BUILD_DIR || return 1
    local extra=()
    read -r -a extra <<<"${TRACKER_CMAKE_ARGS:-}"
    _tk_log "configuring $BUILD_DIR (${CMAKE_BUILD_TYPE:-Release})"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" \
        ${extra[@]+"${extra[@]}"} || { _tk_err "cmake configure failed"; return 1; }
    cmake --build "$BUILD_DIR" -j "${TRACKER_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}" ||
        { _tk_err "build failed"; return 1; }
}

# --------------------------------------------------------------- MariaDB --

_tk_mariadb_sock() { printf '%s\n' "$STATE_DIR/mysql.sock"; }

# tracker_mariadb [ARGS...]: the mariadb client on the private server, as
# root (e.g. `tracker_mariadb tracker -e 'select count(*) from peers'`).
tracker_mariadb() {
    _tk_require STATE_DIR || return 1
    mariadb --no-defaults --default-character-set=utf8mb4 --connect-timeout=5 \
        -uroot -S "$(_tk_mariadb_sock)" "$@"
}

_tk_mariadb_ping() {
    tracker_mariadb -N -e 'select 1' >/dev/null 2>&1
}

# mariadb_start: a private MariaDB on $STATE_DIR/mysql.sock (no TCP),
# initialised on first use, reused when already running.
mariadb_start() {
    _tk_require STATE_DIR || return 1
    local datadir="$STATE_DIR/mysql" sock pidf="$STATE_DIR/mysqld.pid"
    local log="$STATE_DIR/mysqld.log" timeout=${MARIADB_START_TIMEOUT:-30}
    local me pid mariadbd i=0
    sock=$(_tk_mariadb_sock)
    _tk_sock_ok "$sock" || return 1
    mkdir -p -- "$STATE_DIR" || return 1
    me=$(id -un)

    if pid=$(_tk_pid_alive "$pidf" "--datadir=$datadir"); then
        _tk_log "MariaDB already running (pid $pid), reusing it"
    else
        mariadbd=$(_tk_bin mariadbd mysqld) || return 1
        if [ ! -d "$datadir/mysql" ]; then
            # Initialise aside and rename, so an interrupted initialisation
            # never leaves a half-made datadir that looks finished.
            local tmp="$STATE_DIR/mysql.init-tmp" installdb
            installdb=$(_tk_bin mariadb-install-db mysql_install_db) || return 1
            if [ -e "$datadir" ] && [ -n "$(ls -A -- "$datadir" 2>/dev/null)" ]; then
                _tk_err "$datadir exists but holds no MariaDB system tables: move it away"
                return 1
            fi
            rm -rf -- "$tmp"
            mkdir -p -- "$tmp" || return 1
            _tk_log "initialising MariaDB data directory $datadir"
            if ! "$installdb" --no-defaults --datadir="$tmp" --user="$me" \
                --auth-root-authentication-method=normal --skip-test-db \
                >"$STATE_DIR/mysql-install.log" 2>&1; then
                _tk_err "mariadb-install-db failed"
                _tk_tail "$STATE_DIR/mysql-install.log"
                return 1
            fi
            rmdir -- "$datadir" 2>/dev/null || true
            mv -- "$tmp" "$datadir" || return 1
        fi
        local server_extra=()
        read -r -a server_extra <<<"${TRACKER_MARIADB_ARGS:-}"
        # A socket left by a killed server would only confuse the clients.
        [ -S "$sock" ] && ! _tk_mariadb_ping && rm -f -- "$sock"
        _tk_log "starting MariaDB ($sock, log $log)"
        # utf8mb4 as Debian's own server config sets it; flush at commit=2:
        # the peer table is soft state, an OS crash loses <= 1s of announces.
        _tk_spawn "$pidf" "$log" "$mariadbd" --no-defaults \
            --datadir="$datadir" --socket="$sock" --pid-file="$pidf" \
            --log-error="$log" --skip-networking --skip-log-bin \
            --innodb-flush-log-at-trx-commit=2 --max-connections=300 \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
            --user="$me" ${server_extra[@]+"${server_extra[@]}"} || return 1
        pid=$(head -n 1 -- "$pidf" | tr -d '[:space:]')
    fi

    while ! _tk_mariadb_ping; do
        if ! _tk_proc_matches "$pid" "--datadir=$datadir"; then
            _tk_err "MariaDB exited during start-up"
            _tk_tail "$log"
            return 1
        fi
        if [ "$i" -ge $((timeout * 5)) ]; then
            # Left running: it may be in crash recovery, which must not be cut.
            _tk_err "MariaDB (pid $pid) not answering on $sock after ${timeout}s; still running, stop it with mariadb_stop"
            _tk_tail "$log"
            return 1
        fi
        sleep 0.2
        i=$((i + 1))
    done
    _tk_log "MariaDB is up (pid $pid)"
}

# mariadb_stop: stop the private MariaDB (no error when it is not running).
mariadb_stop() {
    _tk_require STATE_DIR || return 1
    local pid pattern="--datadir=$STATE_DIR/mysql"
    if ! pid=$(_tk_pid_alive "$STATE_DIR/mysqld.pid" "$pattern"); then
        _tk_log "MariaDB is not running"
        return 0
    fi
    # InnoDB's clean shutdown can take a while on a big buffer pool.
    _tk_stop_pid MariaDB "$pid" "$pattern" TERM 60 || { _tk_tail "$STATE_DIR/mysqld.log"; return 1; }
    rm -f -- "$STATE_DIR/mysqld.pid"
}

# schema_apply: create the database, then apply sql/schema.sql and every
# sql/migrations/*.sql in name order (all idempotent).
schema_apply() {
    _tk_require ROOT STATE_DIR || return 1
    local db=${DB_NAME:-tracker} f files=()
    if [ ! -f "$ROOT/sql/schema.sql" ]; then
        _tk_err "$ROOT/sql/schema.sql not found"
        return 1
    fi
    tracker_mariadb -e "CREATE DATABASE IF NOT EXISTS \`$db\`" ||
        { _tk_err "cannot create database $db"; return 1; }
    files=("$ROOT/sql/schema.sql")
    if [ -d "$ROOT/sql/migrations" ]; then
        while IFS= read -r f; do
            [ -f "$f" ] && files+=("$f")
        done < <(printf '%s\n' "$ROOT"/sql/migrations/*.sql | LC_ALL=C sort)
    fi
    for f in "${files[@]}"; do
        _tk_log "applying ${f#"$ROOT"/} to $db"
        tracker_mariadb "$db" <"$f" || { _tk_err "applying $f failed"; return 1; }
    done
}

# ------------------------------------------------- MariaDB primary + replica --
#
# A primary with a binary log and a replica that follows it by GTID, both on
# this machine, each in a directory of its own under STATE_DIR, with a
# private socket and a TCP port on 127.0.0.1 (the replica reaches the primary
# over TCP; the tracker can use either). For the replication test and for
# trying database.replica by hand; mariadb_start above is not affected.
#
#   MARIADB_PRIMARY_PORT (13306)   MARIADB_REPLICA_PORT (13307)
#   MARIADB_REPL_PASSWORD (repl-secret): the replication account's password
#
# Files: STATE_DIR/primary/ and STATE_DIR/replica/, each with mysql/ (the
# datadir), mysql.sock, mysqld.pid, mysqld.log; the primary's binary log is
# primary/mysql/binlog.*.
#
# The replica applies the primary's transactions one at a time, in commit
# order (slave_parallel_threads=0): the tracker's change feed relies on the
# order (see README, database.replica). It replays the primary's binary log
# from its beginning, so the primary must have logged since its first start,
# as mariadb_primary_start does.

_tk_mdb_dir() { printf '%s\n' "$STATE_DIR/$1"; }
_tk_mdb_sock() { printf '%s\n' "$STATE_DIR/$1/mysql.sock"; }
_tk_mdb_port() {
    case "$1" in
        primary) printf '%s\n' "${MARIADB_PRIMARY_PORT:-13306}" ;;
        *) printf '%s\n' "${MARIADB_REPLICA_PORT:-13307}" ;;
    esac
}

# tracker_mariadb_on primary|replica [ARGS...]: the mariadb client as root
# on that server's socket.
tracker_mariadb_on() {
    _tk_require STATE_DIR || return 1
    local which=$1
    shift
    mariadb --no-defaults --default-character-set=utf8mb4 --connect-timeout=5 \
        -uroot -S "$(_tk_mdb_sock "$which")" "$@"
}

# _tk_mdb_start primary|replica MARIADBD-OPTION...: initialise (first use)
# and start one of the two servers, wait until it answers.
_tk_mdb_start() {
    local which=$1 dir datadir sock pidf log me pid mariadbd i=0
    local timeout=${MARIADB_START_TIMEOUT:-30} port
    shift
    dir=$(_tk_mdb_dir "$which")
    datadir="$dir/mysql"
    sock=$(_tk_mdb_sock "$which")
    pidf="$dir/mysqld.pid"
    log="$dir/mysqld.log"
    port=$(_tk_mdb_port "$which")
    _tk_sock_ok "$sock" || return 1
    mkdir -p -- "$dir" || return 1
    me=$(id -un)
    if pid=$(_tk_pid_alive "$pidf" "--datadir=$datadir"); then
        _tk_log "MariaDB $which already running (pid $pid), reusing it"
    else
        mariadbd=$(_tk_bin mariadbd mysqld) || return 1
        if [ ! -d "$datadir/mysql" ]; then
            local tmp="$dir/mysql.init-tmp" installdb
            installdb=$(_tk_bin mariadb-install-db mysql_install_db) || return 1
            rm -rf -- "$tmp"
            mkdir -p -- "$tmp" || return 1
            _tk_log "initialising MariaDB $which data directory $datadir"
            if ! "$installdb" --no-defaults --datadir="$tmp" --user="$me" \
                --auth-root-authentication-method=normal --skip-test-db \
                >"$dir/mysql-install.log" 2>&1; then
                _tk_err "mariadb-install-db failed ($which)"
                _tk_tail "$dir/mysql-install.log"
                return 1
            fi
            rmdir -- "$datadir" 2>/dev/null || true
            mv -- "$tmp" "$datadir" || return 1
        fi
        [ -S "$sock" ] && ! tracker_mariadb_on "$which" -N -e 'select 1' >/dev/null 2>&1 &&
            rm -f -- "$sock"
        _tk_log "starting MariaDB $which ($sock, 127.0.0.1:$port, log $log)"
        _tk_spawn "$pidf" "$log" "$mariadbd" --no-defaults \
            --datadir="$datadir" --socket="$sock" --pid-file="$pidf" \
            --log-error="$log" --bind-address=127.0.0.1 --port="$port" \
            --innodb-flush-log-at-trx-commit=2 --max-connections=300 \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
            --user="$me" "$@" || return 1
        pid=$(head -n 1 -- "$pidf" | tr -d '[:space:]')
    fi
    while ! tracker_mariadb_on "$which" -N -e 'select 1' >/dev/null 2>&1; do
        if ! _tk_proc_matches "$pid" "--datadir=$datadir"; then
            _tk_err "MariaDB $which exited during start-up"
            _tk_tail "$log"
            return 1
        fi
        if [ "$i" -ge $((timeout * 5)) ]; then
            _tk_err "MariaDB $which (pid $pid) not answering on $sock after ${timeout}s"
            _tk_tail "$log"
            return 1
        fi
        sleep 0.2
        i=$((i + 1))
    done
    _tk_log "MariaDB $which is up (pid $pid)"
}

# _tk_mdb_stop primary|replica: stop one of the two (no error when stopped).
_tk_mdb_stop() {
    _tk_require STATE_DIR || return 1
    local which=$1 dir pid pattern
    dir=$(_tk_mdb_dir "$which")
    pattern="--datadir=$dir/mysql"
    if ! pid=$(_tk_pid_alive "$dir/mysqld.pid" "$pattern"); then
        _tk_log "MariaDB $which is not running"
        return 0
    fi
    _tk_stop_pid "MariaDB $which" "$pid" "$pattern" TERM 60 || { _tk_tail "$dir/mysqld.log"; return 1; }
    rm -f -- "$dir/mysqld.pid"
}

# mariadb_primary_start: the primary, with a row-based binary log and
# server_id 1, and an account the replica connects with (repl@127.0.0.1,
# REPLICATION SLAVE only).
mariadb_primary_start() {
    _tk_require STATE_DIR || return 1
    local dir pw=${MARIADB_REPL_PASSWORD:-repl-secret}
    dir=$(_tk_mdb_dir primary)
    _tk_mdb_start primary --server-id=1 --log-bin="$dir/mysql/binlog" --binlog-format=ROW \
        --sync-binlog=0 --gtid-strict-mode=1 || return 1
    case "$pw" in *"'"* | *"\\"*) _tk_err "MARIADB_REPL_PASSWORD must not hold ' or \\"; return 1 ;; esac
    tracker_mariadb_on primary -e "CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY '$pw';
        GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'" ||
        { _tk_err "cannot create the replication account on the primary"; return 1; }
}

# mariadb_primary_stop: stop the primary.
mariadb_primary_stop() { _tk_mdb_stop primary; }

# mariadb_replica_start: the replica (server_id 2, read_only, no binary log
# of its own), following the primary over TCP with MASTER_USE_GTID=slave_pos;
# set up on first start, then resumed where it stood. Its replication is
# started (again) too.
mariadb_replica_start() {
    _tk_require STATE_DIR || return 1
    local pw=${MARIADB_REPL_PASSWORD:-repl-secret} port
    port=$(_tk_mdb_port primary)
    _tk_mdb_start replica --server-id=2 --read-only=1 --skip-log-bin \
        --slave-parallel-threads=0 --gtid-strict-mode=1 --skip-slave-start || return 1
    # Whether CHANGE MASTER was made already: SHOW SLAVE STATUS is empty before.
    if [ -z "$(tracker_mariadb_on replica -N -e 'SHOW SLAVE STATUS' 2>/dev/null)" ]; then
        _tk_log "pointing the replica at the primary (127.0.0.1:$port, GTID)"
        tracker_mariadb_on replica -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1',
            MASTER_PORT=$port, MASTER_USER='repl', MASTER_PASSWORD='$pw',
            MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos" ||
            { _tk_err "CHANGE MASTER TO failed"; return 1; }
    fi
    replication_start
}

# mariadb_replica_stop: stop the replica server (it resumes where it stood).
mariadb_replica_stop() { _tk_mdb_stop replica; }

# replication_stop: the replica stops applying the primary's changes (it
# still answers reads, with what it had).
replication_stop() {
    tracker_mariadb_on replica -e 'STOP SLAVE' || { _tk_err "STOP SLAVE failed"; return 1; }
    _tk_log "replication stopped"
}

# replication_start: the replica follows the primary again.
replication_start() {
    tracker_mariadb_on replica -e 'START SLAVE' || { _tk_err "START SLAVE failed"; return 1; }
    _tk_log "replication started"
}

# replication_wait [SECONDS]: wait (default 30 s) until the replica has
# applied everything the primary had logged when this was called.
replication_wait() {
    local secs=${1:-30} pos done_
    pos=$(tracker_mariadb_on primary -N -e 'SELECT @@gtid_binlog_pos') ||
        { _tk_err "cannot read the primary's gtid_binlog_pos"; return 1; }
    done_=$(tracker_mariadb_on replica -N -e "SELECT MASTER_GTID_WAIT('$pos', $secs)") ||
        { _tk_err "MASTER_GTID_WAIT failed"; return 1; }
    if [ "$done_" != 0 ]; then
        _tk_err "the replica has not reached the primary's $pos after ${secs}s"
        tracker_mariadb_on replica -e 'SHOW SLAVE STATUS\G' >&2 || true
        return 1
    fi
}

# ---------------------------------------------------------------- workers --

_tk_config() { printf '%s\n' "${TRACKER_CONFIG:-$STATE_DIR/tracker.json}"; }
_tk_fcgi_sock() { printf '%s\n' "${TRACKER_FCGI_SOCKET:-$STATE_DIR/tracker-fcgi.sock}"; }

# tracker_write_config: $STATE_DIR/tracker.json for the private stack,
# unless it already exists (then it is kept as it is).
tracker_write_config() {
    _tk_require STATE_DIR || return 1
    local cfg sock
    cfg=$(_tk_config)
    sock=$(_tk_fcgi_sock)
    if [ -e "$cfg" ]; then
        _tk_log "keeping existing $cfg"
        return 0
    fi
    mkdir -p -- "$(dirname -- "$cfg")" || return 1
    cat >"$cfg.tmp" <<EOF || return 1
{
  "minInterval": 300,
  "maxInterval": 900,
  "database": {
    "socket": $(_tk_json_str "$(_tk_mariadb_sock)"),
    "user": "root",
    "password": "",
    "name": $(_tk_json_str "${DB_NAME:-tracker}")
  },
  "workers": 16,
  "poolSize": 8,${TRACKER_CONFIG_EXTRA:+
  $TRACKER_CONFIG_EXTRA,}
  "listen": $(_tk_json_str "$sock")
}
EOF
    mv -f -- "$cfg.tmp" "$cfg" || return 1
    _tk_log "wrote $cfg"
}

# workers_start: (re)start $BUILD_DIR/app/tracker-fcgi on the config; a
# running instance is stopped first, so a rebuild is picked up.
workers_start() {
    _tk_require STATE_DIR BUILD_DIR || return 1
    local bin="$BUILD_DIR/app/tracker-fcgi" cfg sock pid i=0
    local pidf="$STATE_DIR/tracker-fcgi.pid" log="$STATE_DIR/tracker-fcgi.log"
    local timeout=${WORKERS_START_TIMEOUT:-10} extra=()
    cfg=$(_tk_config)
    sock=$(_tk_fcgi_sock)
    if [ ! -x "$bin" ]; then
        _tk_err "$bin not built (run tracker_build)"
        return 1
    fi
    [ -f "$cfg" ] || { _tk_err "no config $cfg (run tracker_write_config)"; return 1; }
    _tk_sock_ok "$sock" || return 1
    workers_stop || return 1
    if [ -e "$sock" ]; then
        if [ -S "$sock" ]; then
            rm -f -- "$sock"
        else
            _tk_err "$sock exists and is not a socket"
            return 1
        fi
    fi
    read -r -a extra <<<"${TRACKER_FCGI_ARGS:-}"
    _tk_log "starting tracker-fcgi (config $cfg, log $log)"
    _tk_spawn "$pidf" "$log" "$bin" --config "$cfg" ${extra[@]+"${extra[@]}"} || return 1
    pid=$(head -n 1 -- "$pidf" | tr -d '[:space:]')
    while [ ! -S "$sock" ]; do
        if ! _tk_proc_matches "$pid" "$cfg"; then
            _tk_err "tracker-fcgi exited during start-up"
            _tk_tail "$log"
            return 1
        fi
        if [ "$i" -ge $((timeout * 10)) ]; then
            _tk_err "tracker-fcgi has not created $sock after ${timeout}s: stopping it"
            _tk_tail "$log"
            workers_stop || true
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    _tk_log "tracker-fcgi is up (pid $pid, $sock)"
}

# workers_stop: SIGTERM (in-flight requests finish), SIGKILL after 15s.
workers_stop() {
    _tk_require STATE_DIR || return 1
    local pid cfg sock pidf="$STATE_DIR/tracker-fcgi.pid"
    cfg=$(_tk_config)
    sock=$(_tk_fcgi_sock)
    if pid=$(_tk_pid_alive "$pidf" "$cfg"); then
        _tk_stop_pid tracker-fcgi "$pid" "$cfg" TERM 15 ||
            { _tk_tail "$STATE_DIR/tracker-fcgi.log"; return 1; }
    else
        _tk_log "tracker-fcgi is not running"
    fi
    rm -f -- "$pidf"
    [ -S "$sock" ] && rm -f -- "$sock"
    return 0
}

# ------------------------------------------------------------------ nginx --

_tk_nginx_dir() { printf '%s\n' "$STATE_DIR/nginx"; }

_tk_ipv6_loopback() {
    case "${TRACKER_NGINX_IPV6:-auto}" in
        1 | yes | true) return 0 ;;
        0 | no | false) return 1 ;;
    esac
    [ -r /proc/net/if_inet6 ] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

# _tk_nginx_server_conf OUT: the shipped nginx.conf.example with its
# "# quickstart:..." lines rewritten (see that file).
_tk_nginx_server_conf() {
    local out=$1 example="$ROOT/nginx.conf.example" m n sock port6
    sock=$(_tk_fcgi_sock)
    [ -f "$example" ] || { _tk_err "$example not found"; return 1; }
    # Each marker must be there exactly once, or we would silently test a
    # config other than the one we ship.
    for m in fcgi-socket listen listen6; do
        n=$(grep -c "# quickstart:${m}[[:space:]]*\$" "$example" || true)
        if [ "$n" != 1 ]; then
            _tk_err "nginx.conf.example: expected one line ending in '# quickstart:$m', found $n"
            return 1
        fi
    done
    if _tk_ipv6_loopback; then
        port6="listen [::1]:$HTTP_PORT;"
    else
        port6=
    fi
    sed -e "/# quickstart:fcgi-socket[[:space:]]*\$/ s|server[[:space:]][[:space:]]*unix:[^;]*;|server unix:$(_tk_sed_repl "$sock");|" \
        -e "/# quickstart:listen[[:space:]]*\$/ s|listen[[:space:]][^;]*;|listen 127.0.0.1:$HTTP_PORT;|" \
        -e "/# quickstart:listen6[[:space:]]*\$/ s|listen[[:space:]][^;]*;|$port6|" \
        "$example" >"$out.tmp" || return 1
    # Check that the substitutions happened (the marker lines kept their shape).
    if ! grep -qF "server unix:$sock;" "$out.tmp" ||
        ! grep -qF "listen 127.0.0.1:$HTTP_PORT;" "$out.tmp"; then
        _tk_err "nginx.conf.example: the marked listen / socket lines are not in the expected form"
        rm -f -- "$out.tmp"
        return 1
    fi
    mv -f -- "$out.tmp" "$out"
}

# _tk_nginx_main_conf DIR: DIR/nginx.conf, a whole nginx config living in DIR.
_tk_nginx_main_conf() {
    local d=$1 params user_line="" without
    params=$(_tk_nginx_conf_dir)/fastcgi_params
    [ -f "$params" ] || { _tk_err "$params not found (is nginx installed?)"; return 1; }
    # The example says "include fastcgi_params;", which nginx resolves next to
    # the main config file: put a copy there.
    cp -f -- "$params" "$d/fastcgi_params" || return 1
    # As root, nginx workers would run as "nobody" and could not connect to a
    # socket made by a worker pool running as root: keep them as the caller.
    if [ "$(id -u)" -eq 0 ]; then
        user_line="user $(id -un) $(id -gn);"
    fi
    without=$("$(_tk_bin nginx)" -V 2>&1) || without=
    local uwsgi_line="uwsgi_temp_path $d/tmp/uwsgi;" scgi_line="scgi_temp_path $d/tmp/scgi;"
    case "$without" in *--without-http_uwsgi_module*) uwsgi_line= ;; esac
    case "$without" in *--without-http_scgi_module*) scgi_line= ;; esac
    mkdir -p -- "$d/tmp" "$d/logs" || return 1
    cat >"$d/nginx.conf.tmp" <<EOF || return 1
# Generated by deploy/lib/services.sh: a private nginx for the quick start
# and the tests. The server block is tracker-server.conf, made from the
# repository's nginx.conf.example. Edit that file, not this one.
$user_line
daemon on;
worker_processes ${TRACKER_NGINX_WORKERS:-auto};
worker_rlimit_nofile 16384;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;

events {
    worker_connections 4096;
}

http {
    client_body_temp_path $d/tmp/client_body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    $uwsgi_line
    $scgi_line
    access_log off;
    default_type application/octet-stream;
    include $d/tracker-server.conf;
    ${TRACKER_NGINX_EXTRA_CONF:+include $TRACKER_NGINX_EXTRA_CONF;}
}
EOF
    mv -f -- "$d/nginx.conf.tmp" "$d/nginx.conf"
}

# nginx's own config directory (where fastcgi_params is), from nginx -V.
_tk_nginx_conf_dir() {
    local v p
    v=$("$(_tk_bin nginx)" -V 2>&1) || v=
    p=$(printf '%s\n' "$v" | tr ' ' '\n' | sed -n 's/^--conf-path=//p' | head -n 1)
    if [ -n "$p" ]; then dirname -- "$p"; else echo /etc/nginx; fi
}

# nginx_start: generate $STATE_DIR/nginx/nginx.conf, then start nginx, or
# reload it when it runs already; wait until the port answers.
nginx_start() {
    _tk_require ROOT STATE_DIR HTTP_PORT || return 1
    case "$HTTP_PORT" in
        '' | *[!0-9]*) _tk_err "HTTP_PORT is not a port number: $HTTP_PORT"; return 1 ;;
    esac
    local d nginx conf pid out code="" i=0 p
    for p in "$STATE_DIR" "$(_tk_fcgi_sock)"; do
        # shellcheck disable=SC2101  # [[:space:]] is inside the bracket set
        case "$p" in
            *[[:space:]\;\"\'{}\#]*)
                _tk_err "path unusable in an nginx config (space, quote, ; { } #): $p"
                return 1 ;;
        esac
    done
    d=$(_tk_nginx_dir)
    conf="$d/nginx.conf"
    nginx=$(_tk_bin nginx) || return 1
    mkdir -p -- "$d" || return 1
    _tk_nginx_server_conf "$d/tracker-server.conf" || return 1
    _tk_nginx_main_conf "$d" || return 1
    if ! out=$("$nginx" -t -q -e "$d/logs/error.log" -c "$conf" -p "$d/" 2>&1); then
        _tk_err "nginx rejects the generated config $conf:"
        printf '%s\n' "$out" >&2
        return 1
    fi
    if pid=$(_tk_pid_alive "$d/nginx.pid" "$conf"); then
        _tk_log "nginx running (pid $pid): reloading"
        kill -s HUP "$pid" || return 1
    else
        _tk_log "starting nginx on 127.0.0.1:$HTTP_PORT (config $conf)"
        if ! out=$("$nginx" -e "$d/logs/error.log" -c "$conf" -p "$d/" 2>&1); then
            _tk_err "nginx failed to start (log $d/logs/error.log):"
            printf '%s\n' "$out" >&2
            return 1
        fi
    fi
    # Anything nginx itself answers (the example 404s "/") proves it serves.
    while :; do
        code=$(tracker_http_status / "" 127.0.0.1 "$HTTP_PORT") || code=
        [ -n "$code" ] && break
        if [ "$i" -ge 100 ]; then
            _tk_err "nothing answers on 127.0.0.1:$HTTP_PORT after 10s"
            _tk_tail "$d/logs/error.log" 20
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    _tk_log "nginx is up on 127.0.0.1:$HTTP_PORT"
}

# nginx_stop: graceful quit, then harder signals (bounded).
nginx_stop() {
    _tk_require STATE_DIR || return 1
    local d pid conf
    d=$(_tk_nginx_dir)
    conf="$d/nginx.conf"
    if ! pid=$(_tk_pid_alive "$d/nginx.pid" "$conf"); then
        _tk_log "nginx is not running"
        return 0
    fi
    # QUIT = finish the requests in flight; after 10s fall back to TERM.
    _tk_log "stopping nginx (pid $pid, SIGQUIT)"
    kill -s QUIT "$pid" 2>/dev/null || true
    if ! _tk_wait_gone "$pid" "$conf" 10; then
        _tk_stop_pid nginx "$pid" "$conf" TERM 5 || { _tk_tail "$d/logs/error.log" 20; return 1; }
    fi
    rm -f -- "$d/nginx.pid"
}

# ------------------------------------------------------------------- all --

# tracker_stop_all: workers, nginx, MariaDB; tries all three, fails if any did.
tracker_stop_all() {
    local rc=0
    workers_stop || rc=1
    nginx_stop || rc=1
    mariadb_stop || rc=1
    return "$rc"
}

# tracker_status: one line per service.
tracker_status() {
    _tk_require STATE_DIR || return 1
    local pid d port
    d=$(_tk_nginx_dir)
    if pid=$(_tk_pid_alive "$STATE_DIR/mysqld.pid" "--datadir=$STATE_DIR/mysql"); then
        echo "mariadb       running (pid $pid)  socket $(_tk_mariadb_sock)"
    else
        echo "mariadb       stopped"
    fi
    if pid=$(_tk_pid_alive "$STATE_DIR/tracker-fcgi.pid" "$(_tk_config)"); then
        echo "tracker-fcgi  running (pid $pid)  socket $(_tk_fcgi_sock)"
    else
        echo "tracker-fcgi  stopped"
    fi
    if pid=$(_tk_pid_alive "$d/nginx.pid" "$d/nginx.conf"); then
        port=$(sed -n 's/^[[:space:]]*listen 127\.0\.0\.1:\([0-9]*\);.*/\1/p' \
            "$d/tracker-server.conf" 2>/dev/null | head -n 1) || port=
        echo "nginx         running (pid $pid)  http://127.0.0.1:${port:-?}/"
    else
        echo "nginx         stopped"
    fi
}
