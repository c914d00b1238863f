# shellcheck shell=bash
# bench/scale.sh: `bench/run --scale`, the tracker at a small site's size and at a big one's,
# side by side in one run. Sourced by bench/run after it started MariaDB; it starts nginx and
# uses bench/run's run_wrk, cpu_ticks and median.
#
# Each size is a database of its own in the benchmark's MariaDB (bench_small, bench_big,
# bench_huge), filled once by SQL (MariaDB's Sequence engine) and kept: a later run reuses it,
# removing first the peers earlier runs added. Each size gets a tracker-fcgi of its own, behind
# a server block of its own in the same nginx (nginx.conf.example's, on another port), and all
# of them run at once, so that the announce rounds go size after size, round after round: the
# machine's drift falls on every size alike. In order:
#   start-up   each worker started on its database in turn: seconds until its replica holds
#              everything, and what the announces sent meanwhile got (from the database)
#   idle       MariaDB's CPU with no worker at all, then each worker's and MariaDB's CPU over
#              30 s with every worker running and no request, and the statements MariaDB ran
#   RSS        of each tracker-fcgi once loaded, and after the announce runs
#   announces  wrk with bench/announce.lua, interleaved (on the big sizes also the same 10,000
#              hashes as the small one, inside the big database)
#   resync     a gap in the change feed made by SQL while wrk announces: how long the replica
#              takes to read everything again beside itself, its RSS meanwhile, and how many
#              announces went to the database
#   full scrape  built on the first request (its own thread): build time, bytes (gzip and
#              plain), tracker-fcgi RSS before and after serving both
#   cron       tracker-cron run twice, the second with nothing at all to do (its time, MariaDB's
#              CPU), then once deleting the peers the announce runs added (aged by SQL) while
#              wrk announces

SCALE_SIZES_small="10000 50000"
SCALE_SIZES_big="1000000 5000000"
SCALE_SIZES_huge="1000000 10000000"
SCALE_DIR="$STATE_DIR/scale"
declare -A scale_row scale_port

scale_ctl_config() {  # scale_ctl_config NAME: a config for trackerctl and tracker-cron on bench_NAME
    local out="$SCALE_DIR/$1-admin.json"
    # Peers never expire here (a day and a day): the fill is kept between runs.
    printf '{"minInterval": 86400, "maxInterval": 86400, "database": {"socket": "%s", "user": "root", "name": "bench_%s"}}\n' \
        "$STATE_DIR/mysql.sock" "$1" >"$out"
    echo "$out"
}

scale_fill() {  # scale_fill NAME TORRENTS PEERS
    local name=$1 torrents=$2 peers=$3 db=bench_$1 have config chunk lo hi
    config=$(scale_ctl_config "$name")
    have=$(tracker_mariadb -N "$db" -e "SELECT CONCAT(torrents, '/', peers) FROM bench_fill" 2>/dev/null) || have=
    if [ "$have" != "$torrents/$peers" ]; then
        echo "== filling $db: $torrents torrents, $peers peers (once; kept for later runs)" >&2
        tracker_mariadb -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
        "$BUILD_DIR/app/trackerctl" --config "$config" migrate >/dev/null
        tracker_mariadb "$db" -e "INSERT INTO torrents (infohash, name)
            SELECT UNHEX(SHA1(seq)), CONCAT('bench torrent ', seq) FROM seq_1_to_$torrents"
        # Each peer as its re-announces will come (see bench/run's fill), 500,000 a statement.
        chunk=500000
        for ((lo = 1; lo <= peers; lo += chunk)); do
            hi=$((lo + chunk - 1 < peers ? lo + chunk - 1 : peers))
            tracker_mariadb "$db" -e "INSERT INTO peers (tid, uid, peerId, ip, port, crypt, residual, rnd)
                SELECT seq % $torrents + 1, CONCAT('p', seq),
                       UNHEX(CONCAT('2d4254303030312d', LPAD(HEX(seq), 24, '0'))), '127.0.0.1',
                       10000 + seq % 50000, 0, IF(seq % 2 = 0, 0, 1000), 1 + FLOOR(RAND() * 4294967294)
                  FROM seq_${lo}_to_${hi}"
        done
        tracker_mariadb "$db" -e "CREATE TABLE bench_fill (torrents INT, peers INT,
            filled TIMESTAMP DEFAULT CURRENT_TIMESTAMP); INSERT INTO bench_fill (torrents, peers)
            VALUES ($torrents, $peers)"
    else
        echo "== reusing $db ($torrents torrents, $peers peers)" >&2
        "$BUILD_DIR/app/trackerctl" --config "$config" migrate >/dev/null
        # What earlier runs added: their new peers (keys n...).
        tracker_mariadb "$db" -e "DELETE FROM peers WHERE uid >= 'n' AND uid < 'o'"
        # A fill older than the admin config's timeout would be expired by the cron runs.
        if [ "$(tracker_mariadb -N "$db" -e "SELECT MIN(updated) < NOW() - INTERVAL 40 HOUR FROM peers")" = 1 ]; then
            echo "== refreshing the fill's peers (older than 40 h)" >&2
            tracker_mariadb "$db" -e "UPDATE peers SET updated = NOW()"
        fi
    fi
    if [ ! -s "$SCALE_DIR/hashes-$name.txt" ] ||
        [ "$(wc -l <"$SCALE_DIR/hashes-$name.txt")" != "$torrents" ]; then
        tracker_mariadb -N "$db" -e "SELECT LOWER(HEX(infohash)) FROM torrents ORDER BY tid" \
            >"$SCALE_DIR/hashes-$name.txt"
    fi
}

# The size's nginx server: nginx.conf.example's, on its own port and socket (its map is the
# main server's: declared once).
scale_nginx_server() {  # scale_nginx_server NAME PORT
    local out="$SCALE_DIR/$1-server.conf"
    TRACKER_FCGI_SOCKET="$SCALE_DIR/$1.sock" HTTP_PORT=$2 TRACKER_NGINX_IPV6=0 \
        _tk_nginx_server_conf "$out.tmp" || return 1
    awk -v name="$1" '
        /^map \$http_user_agent/ { skip = 1 }
        skip { if ($0 ~ /^}/) skip = 0; next }
        { gsub(/tracker_fcgi/, "tracker_fcgi_" name); print }' "$out.tmp" >"$out"
    rm -f "$out.tmp"
    echo "include $out;"
}

scale_stats() {  # scale_stats NAME PYTHON-EXPRESSION: evaluated on that worker's /stats (as `s`)
    curl -s "http://127.0.0.1:${scale_port[$1]}/stats" |
        python3 -c "import json, sys; s = json.load(sys.stdin); print($2)" 2>/dev/null
}

scale_pid() { cat "$SCALE_DIR/$1.pid"; }

scale_rss() {  # scale_rss NAME: in MB
    awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$(scale_pid "$1")/status"
}

scale_announce_url() {  # an announce of the fill's peer with seq PEERS, in torrent 1
    local hash
    hash=$(head -n 1 "$SCALE_DIR/hashes-$1.txt" | sed 's/../%&/g')
    echo "http://127.0.0.1:${scale_port[$1]}/announce?info_hash=$hash&peer_id=-BT0001-000000000001&port=10001&uploaded=0&downloaded=0&left=1000&key=p$2&compact=1"
}

scale_start() {  # scale_start NAME TORRENTS PEERS: its worker, loaded
    local name=$1 peers=$3 config started loaded answered=0 refused=0 body n
    config="$SCALE_DIR/$name-worker.json"
    python3 - "$STATE_DIR/tracker.json" "$config" "bench_$name" "$SCALE_DIR/$name.sock" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["database"]["name"] = sys.argv[3]
c["listen"] = sys.argv[4]
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
    echo "== $name: starting its worker" >&2
    rm -f "$SCALE_DIR/$name.sock"
    started=$(date +%s.%N)
    _tk_spawn "$SCALE_DIR/$name.pid" "$SCALE_DIR/$name.log" "$BUILD_DIR/app/tracker-fcgi" \
        --config "$config" || return 1
    for n in $(seq 100); do [ -S "$SCALE_DIR/$name.sock" ] && break; sleep 0.1; done
    # Until the replica is loaded, announces are answered from the database.
    n=0
    while [ "$(scale_stats "$name" "s['replica']['reloads']")" != 1 ]; do
        body=$(curl -s "$(scale_announce_url "$name" "$peers")" | tr -d '\0')
        case "$body" in *"failure reason"*) refused=$((refused + 1)) ;; d*) answered=$((answered + 1)) ;; esac
        n=$((n + 1))
        [ "$n" -lt 3000 ] || { echo "bench: the replica did not load in 10 minutes" >&2; return 1; }
        sleep 0.2
    done
    loaded=$(date +%s.%N)
    scale_row[$name:startup]=$(awk -v a="$started" -v b="$loaded" 'BEGIN { printf "%.1f s", b - a }')
    scale_row[$name:during]="$answered answered, $refused refused"
    scale_row[$name:rss]="$(scale_rss "$name") MB"
    scale_row[$name:bytes]=$(scale_stats "$name" "round(s['replica']['bytes'] / 1048576)")
}

scale_stop_workers() {
    local name pid
    for name in "$@"; do
        pid=$(scale_pid "$name" 2>/dev/null) || continue
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
}

scale_idle() {  # scale_idle NAMES...: each worker's and MariaDB's CPU over 30 s, no requests
    local name mysqld hz q1 q2 m1 m2
    declare -A f1 f2
    mysqld=$(cat "$STATE_DIR/mysqld.pid") hz=$(getconf CLK_TCK)
    sleep 5  # past the start-ups' own settling
    # What MariaDB runs for everyone: its Questions counter (less the two reads of it).
    q1=$(tracker_mariadb -N -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}')
    m1=$(cpu_ticks "$mysqld")
    for name in "$@"; do f1[$name]=$(cpu_ticks "$(scale_pid "$name")"); done
    sleep 30
    for name in "$@"; do f2[$name]=$(cpu_ticks "$(scale_pid "$name")"); done
    m2=$(cpu_ticks "$mysqld")
    q2=$(tracker_mariadb -N -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}')
    for name in "$@"; do
        scale_row[$name:idle]=$(awk -v f=$((f2[$name] - f1[$name])) -v hz="$hz" \
            'BEGIN { printf "worker %.1f %%", 100 * f / hz / 30 }')
    done
    scale_idle_db=$(awk -v m=$((m2 - m1)) -v q=$((q2 - q1 - 1)) -v hz="$hz" -v n=$# \
        'BEGIN { printf "MariaDB %.1f %% with the %d workers (%.1f commands/s)", 100 * m / hz / 30, n, q / 30 }')
}

scale_after() {  # scale_after NAME TORRENTS: resync, full scrape, cron
    local name=$1 torrents=$2 fcgi mysqld hz n
    fcgi=$(scale_pid "$name") mysqld=$(cat "$STATE_DIR/mysqld.pid") hz=$(getconf CLK_TCK)
    export BENCH_HASHES="$SCALE_DIR/hashes-$name.txt" BENCH_TORRENTS=$torrents
    BENCH_PEERS=$(awk '{print $2}' <<<"$(eval echo "\$SCALE_SIZES_$name")")
    export BENCH_PEERS
    local url="http://127.0.0.1:${scale_port[$name]}"

    # A resync: the pruning mark set to the committed number makes the next pull see a gap.
    # Announces go on meanwhile; the replica answers them all along.
    local resyncs rss_before rss_peak database_before database_after marker sampler
    resyncs=$(scale_stats "$name" "s['replica']['resyncs']")
    database_before=$(scale_stats "$name" "s['answeredFrom']['database']")
    rss_before=$(scale_rss "$name")
    ( sleep 2; tracker_mariadb "bench_$name" -e "UPDATE tracker_sequence SET value =
        (SELECT value FROM (SELECT value FROM tracker_sequence WHERE id = 1) AS counter) WHERE id = 2" ) &
    marker=$!
    ( while :; do awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$fcgi/status"; sleep 0.2; done ) \
        >"$SCALE_DIR/rss-samples" 2>/dev/null &
    sampler=$!
    BENCH_NEW=10 BENCH_HOT=$torrents run_wrk "$name-resync:tracker-$name" "$url" announce.lua
    wait "$marker" || true
    for n in $(seq 300); do
        [ "$(scale_stats "$name" "s['replica']['resyncs']")" -gt "$resyncs" ] && break
        sleep 0.2
    done
    kill "$sampler" 2>/dev/null || true
    rss_peak=$(sort -n "$SCALE_DIR/rss-samples" | tail -n 1)
    database_after=$(scale_stats "$name" "s['answeredFrom']['database']")
    scale_row[$name:resync]=$(printf '%s s; RSS %s MB before, %s MB at most, %s MB after; %s announces answered from the database; meanwhile %.0f/s, p99 %s ms' \
        "$(scale_stats "$name" "round(s['replica']['lastReloadMs'] / 1000, 1)")" "$rss_before" \
        "$rss_peak" "$(scale_rss "$name")" "$((database_after - database_before))" \
        "$(median <<<"${result_rps[$name-resync:tracker-$name]}")" "${result_p99[$name-resync:tracker-$name]}")

    # The full scrape: the first request starts the build; the copy is served once built.
    local t0 bytes_gzip bytes_plain
    rss_before=$(scale_rss "$name")
    t0=$(date +%s.%N)
    for n in $(seq 600); do
        bytes_gzip=$(curl -s -H "Accept-Encoding: gzip" -o "$SCALE_DIR/full.gz" -w "%{size_download}" "$url/scrape")
        [ "$(od -An -tx1 -N2 "$SCALE_DIR/full.gz" | tr -d ' ')" = 1f8b ] && break
        sleep 0.5
    done
    bytes_plain=$(curl -s -o /dev/null -w "%{size_download}" "$url/scrape")
    scale_row[$name:scrape]=$(awk -v g="$bytes_gzip" -v p="$bytes_plain" \
        -v b="$(scale_stats "$name" "s['fullScrape']['lastBuildMs']")" -v r0="$rss_before" -v r1="$(scale_rss "$name")" \
        'BEGIN { printf "%.1f MB gzip (%.1f MB plain), built in %.1f s, RSS %+d MB", g / 1048576, p / 1048576, b / 1000, r1 - r0 }')

    # tracker-cron twice: the second run has nothing at all to do (the first pruned the
    # feeds' records an earlier run left).
    local admin out m_before m_after aged cron_pid
    admin=$(scale_ctl_config "$name")
    "$BUILD_DIR/app/tracker-cron" --config "$admin" >/dev/null
    m_before=$(cpu_ticks "$mysqld")
    out=$("$BUILD_DIR/app/tracker-cron" --config "$admin")
    m_after=$(cpu_ticks "$mysqld")
    scale_row[$name:cron]=$(awk -v o="$out" -v t=$((m_after - m_before)) -v hz="$hz" \
        'BEGIN { sub(/^tracker-cron: /, "", o); printf "%s; MariaDB %.2f s of CPU", o, t / hz }')

    # tracker-cron deleting what the announce runs added (aged by SQL), while wrk announces.
    tracker_mariadb "bench_$name" -e "UPDATE peers SET updated = NOW() - INTERVAL 3 DAY WHERE uid >= 'n' AND uid < 'o'"
    aged=$(tracker_mariadb -N "bench_$name" -e "SELECT COUNT(*) FROM peers WHERE uid >= 'n' AND uid < 'o'")
    ( sleep 3; "$BUILD_DIR/app/tracker-cron" --config "$admin" >"$SCALE_DIR/cron.out" 2>&1 ) &
    cron_pid=$!
    BENCH_NEW=0 BENCH_HOT=$torrents run_wrk "$name-cron:tracker-$name" "$url" announce.lua
    wait "$cron_pid" || true
    scale_row[$name:cron-busy]=$(printf '%s (%s aged); meanwhile %.0f/s, p99 %s ms' \
        "$(sed 's/^tracker-cron: //' "$SCALE_DIR/cron.out")" "$aged" \
        "$(median <<<"${result_rps[$name-cron:tracker-$name]}")" "${result_p99[$name-cron:tracker-$name]}")
}

scale_main() {  # scale_main SIZES (comma-separated: small,big,huge)
    local sizes=${1//,/ } size spec include="" port=$((HTTP_PORT + 10)) t p round
    mkdir -p "$SCALE_DIR"
    for size in $sizes; do
        spec="SCALE_SIZES_$size"
        [ -n "${!spec:-}" ] || { echo "bench/run: unknown size $size (small, big, huge)" >&2; exit 2; }
        # shellcheck disable=SC2086
        scale_fill "$size" ${!spec}
        scale_port[$size]=$port
        include+="$(scale_nginx_server "$size" "$port")"$'\n'
        port=$((port + 1))
    done
    printf '%s' "$include" >>"$STATE_DIR/baselines.conf"
    trap 'scale_stop_workers '"$sizes"'; cleanup' EXIT
    nginx_start >/dev/null

    # MariaDB by itself, with no worker connected: its own background work (purge, flushing
    # after the fill or an earlier run), which the idle figures include.
    local alone0 alone1
    alone0=$(cpu_ticks "$(cat "$STATE_DIR/mysqld.pid")")
    sleep 15
    alone1=$(cpu_ticks "$(cat "$STATE_DIR/mysqld.pid")")
    local alone
    alone=$(awk -v t=$((alone1 - alone0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f %%", 100 * t / hz / 15 }')

    for size in $sizes; do
        spec="SCALE_SIZES_$size"
        # shellcheck disable=SC2086
        scale_start "$size" ${!spec} || exit 1
    done
    # shellcheck disable=SC2086
    scale_idle $sizes

    # The announce rounds, size after size: a warm-up each (the first seconds of load after
    # the idle wait run slower, whichever size goes first), then the rounds.
    for round in 0 $(seq "$rounds"); do
        for size in $sizes; do
            spec="SCALE_SIZES_$size"
            read -r t p <<<"${!spec}"
            export BENCH_HASHES="$SCALE_DIR/hashes-$size.txt" BENCH_TORRENTS=$t BENCH_PEERS=$p
            if [ "$round" = 0 ]; then
                duration=5 BENCH_HOT=$t run_wrk "$size-warmup:tracker-$size" \
                    "http://127.0.0.1:${scale_port[$size]}" announce.lua 2>/dev/null
                continue
            fi
            BENCH_HOT=$t run_wrk "$size:tracker-$size" "http://127.0.0.1:${scale_port[$size]}" announce.lua
            if [ "$t" -gt 10000 ]; then
                BENCH_HOT=10000 run_wrk "$size-hot:tracker-$size" \
                    "http://127.0.0.1:${scale_port[$size]}" announce.lua
            fi
        done
    done
    for size in $sizes; do scale_row[$size:rss-after]="$(scale_rss "$size") MB"; done
    for size in $sizes; do
        spec="SCALE_SIZES_$size"
        read -r t p <<<"${!spec}"
        scale_after "$size" "$t"
    done

    local first=${sizes%% *}
    echo
    echo "### Site size (wrk -t2 -c$connections -d${duration}s, Connection: close; median of $rounds interleaved round(s))"
    echo
    printf '|'
    for size in $sizes; do
        spec="SCALE_SIZES_$size"
        read -r t p <<<"${!spec}"
        printf ' %s: %s torrents / %s peers |' "$size" "$t" "$p"
    done
    echo
    printf '|---|'
    for size in $sizes; do printf -- '---|'; done
    echo
    scale_line() {  # scale_line LABEL KEY
        printf '| %s |' "$1"
        for size in $sizes; do printf ' %s |' "${scale_row[$size:$2]:--}"; done
        echo
    }
    local rps ratio
    for size in $sizes; do
        rps=$(median <<<"${result_rps[$size:tracker-$size]:-0}")
        ratio=
        [ "$size" = "$first" ] || ratio=$(awk -v a="$rps" -v b="$(median <<<"${result_rps[$first:tracker-$first]:-0}")" \
            'BEGIN { printf " (%.2fx %s)", a / b, "'"$first"'" }')
        scale_row[$size:announce]=$(printf '%.0f/s (rounds:%s), p50 %s ms, p99 %s ms%s; %s' "$rps" \
            "$(printf ' %.0f' ${result_rps[$size:tracker-$size]})" "${result_p50[$size:tracker-$size]}" \
            "${result_p99[$size:tracker-$size]}" "$ratio" "${result_split[$size:tracker-$size]:-}")
        if [ -n "${result_rps[$size-hot:tracker-$size]:-}" ]; then
            rps=$(median <<<"${result_rps[$size-hot:tracker-$size]}")
            scale_row[$size:hot]=$(printf '%.0f/s (rounds:%s), p50 %s ms, p99 %s ms' "$rps" \
                "$(printf ' %.0f' ${result_rps[$size-hot:tracker-$size]})" \
                "${result_p50[$size-hot:tracker-$size]}" "${result_p99[$size-hot:tracker-$size]}")
        fi
    done
    scale_line "announces (bench/announce.lua)" announce
    scale_line "the same 10,000 hashes, inside this database" hot
    scale_line "start-up: the whole replica in" startup
    scale_line "announces during the start-up" during
    scale_line "CPU with no requests (30 s)" idle
    scale_line "tracker-fcgi RSS, loaded" rss
    scale_line "the replica's own count (MB)" bytes
    scale_line "tracker-fcgi RSS after the announce runs" rss-after
    scale_line "a resync (a gap in the feed) under announces" resync
    scale_line "full scrape" scrape
    scale_line "tracker-cron, nothing to do" cron
    scale_line "tracker-cron deleting, under announces" cron-busy
    echo
    echo "MariaDB's CPU with no worker (15 s): $alone; $scale_idle_db."
}
