# shellcheck shell=bash
# bench/scale.sh: `bench/run --scale`, the tracker at a small site's size and at a big one's,
# side by side in one run. Sourced by bench/run after it started MariaDB and nginx; uses its
# run_wrk, cpu_ticks and median.
#
# Each size is a database of its own in the benchmark's MariaDB (bench_small, bench_big,
# bench_huge), filled once by SQL (MariaDB's Sequence engine) and kept: a later run reuses it,
# removing first the peers earlier runs added. For each size, in order:
#   start-up   tracker-fcgi restarted on it: seconds until its replica holds everything, and
#              what the announces sent meanwhile got (they are answered from the database)
#   RSS        of tracker-fcgi once loaded, and after the announce runs
#   idle       CPU of tracker-fcgi and MariaDB over 30 s with no request at all, and the
#              statements MariaDB ran meanwhile
#   announces  wrk with bench/announce.lua (as bench/run; on the big sizes also the same
#              10,000 hashes as the small one, inside the big database)
#   full scrape  built on the first request (its own thread): build time, bytes (gzip and
#              plain), tracker-fcgi RSS before and after serving both
#   resync     a gap in the change feed made by SQL while wrk announces: how long the replica
#              takes to read everything again beside itself, its RSS meanwhile, and how many
#              announces went to the database
#   cron       one tracker-cron run with nothing expired (its time, MariaDB's CPU), then one
#              that deletes the peers the announce runs added (aged by SQL) while wrk announces

SCALE_SIZES_small="10000 50000"
SCALE_SIZES_big="1000000 5000000"
SCALE_SIZES_huge="1000000 10000000"
SCALE_DIR="$STATE_DIR/scale"
declare -A scale_row

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

scale_stats() {  # scale_stats PYTHON-EXPRESSION: evaluated on /stats' JSON (as `s`)
    curl -s "http://127.0.0.1:$HTTP_PORT/stats" |
        python3 -c "import json, sys; s = json.load(sys.stdin); print($1)" 2>/dev/null
}

scale_rss() {  # in MB
    awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$(cat "$STATE_DIR/tracker-fcgi.pid")/status"
}

scale_announce_url() {  # an announce of the fill's peer 1 of torrent 1
    local hash
    hash=$(head -n 1 "$SCALE_DIR/hashes-$1.txt" | sed 's/../%&/g')
    echo "http://127.0.0.1:$HTTP_PORT/announce?info_hash=$hash&peer_id=-BT0001-000000000001&port=10001&uploaded=0&downloaded=0&left=1000&key=p$2&compact=1"
}

scale_measure() {  # scale_measure NAME TORRENTS PEERS
    local name=$1 torrents=$2 peers=$3 config started loaded answered=0 refused=0 body n
    config="$SCALE_DIR/$name-worker.json"
    python3 - "$STATE_DIR/tracker.json" "$config" "bench_$name" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["database"]["name"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
    echo "== $name: $torrents torrents, $peers peers" >&2
    workers_stop >/dev/null 2>&1  # the previous size's (services.sh finds it by its config)
    # MariaDB by itself, with no worker connected: its own background work (purge, flushing
    # after the fill or an earlier run), which the idle figure below includes.
    local alone0 alone1
    alone0=$(cpu_ticks "$(cat "$STATE_DIR/mysqld.pid")")
    sleep 15
    alone1=$(cpu_ticks "$(cat "$STATE_DIR/mysqld.pid")")
    scale_row[$name:alone]=$(awk -v t=$((alone1 - alone0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f %%", 100 * t / hz / 15 }')
    export TRACKER_CONFIG="$config"
    started=$(date +%s.%N)
    workers_start >/dev/null || return 1
    # Until the replica is loaded, announces are answered from the database.
    n=0
    while [ "$(scale_stats "s['replica']['reloads']")" != 1 ]; do
        body=$(curl -s "$(scale_announce_url "$name" "$peers")")
        case "$body" in *"failure reason"*) refused=$((refused + 1)) ;; d*) answered=$((answered + 1)) ;; esac
        n=$((n + 1))
        [ "$n" -lt 3000 ] || { echo "bench: the replica did not load in 10 minutes" >&2; return 1; }
        sleep 0.2
    done
    loaded=$(date +%s.%N)
    scale_row[$name:startup]=$(awk -v a="$started" -v b="$loaded" 'BEGIN { printf "%.1f s", b - a }')
    scale_row[$name:during]="$answered answered, $refused refused"
    scale_row[$name:rss]="$(scale_rss) MB"
    scale_row[$name:bytes]=$(scale_stats "round(s['replica']['bytes'] / 1048576)")
    sleep 5  # past the start-up's own settling
    local mysqld fcgi
    mysqld=$(cat "$STATE_DIR/mysqld.pid") fcgi=$(cat "$STATE_DIR/tracker-fcgi.pid")
    local f1 m1 f2 m2 q1 q2 hz
    hz=$(getconf CLK_TCK)
    # What MariaDB runs for everyone: its Questions counter (minus these two reads of it).
    q1=$(tracker_mariadb -N -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}')
    f1=$(cpu_ticks "$fcgi") m1=$(cpu_ticks "$mysqld")
    sleep 30
    f2=$(cpu_ticks "$fcgi") m2=$(cpu_ticks "$mysqld")
    q2=$(tracker_mariadb -N -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}')
    scale_row[$name:idle]=$(awk -v f=$((f2 - f1)) -v m=$((m2 - m1)) -v q=$((q2 - q1 - 1)) -v hz="$hz" \
        'BEGIN { printf "workers %.1f %%, MariaDB %.1f %% (%.1f statements/s)", 100 * f / hz / 30, 100 * m / hz / 30, q / 30 }')

    export BENCH_HASHES="$SCALE_DIR/hashes-$name.txt" BENCH_TORRENTS=$torrents BENCH_PEERS=$peers
    # A warm-up, not counted: the first seconds of load after the idle wait run slower (the
    # server's own background work catching up), whichever size goes first.
    duration=5 run_wrk "$name-warmup:tracker" "http://127.0.0.1:$HTTP_PORT" announce.lua 2>/dev/null
    local round
    for round in $(seq "$rounds"); do
        BENCH_HOT=$torrents run_wrk "$name:tracker" "http://127.0.0.1:$HTTP_PORT" announce.lua
        if [ "$torrents" -gt 10000 ]; then
            BENCH_HOT=10000 run_wrk "$name-hot:tracker" "http://127.0.0.1:$HTTP_PORT" announce.lua
        fi
    done
    scale_row[$name:rss-after]="$(scale_rss) MB"

    # A resync: the pruning mark set to the committed number makes every process's next pull
    # see a gap. Announces go on meanwhile; the replica answers them all along.
    local resyncs rss_peak=0 rss_now database_before database_after
    resyncs=$(scale_stats "s['replica']['resyncs']")
    database_before=$(scale_stats "s['answeredFrom']['database']")
    ( sleep 2; tracker_mariadb "bench_$name" -e "UPDATE tracker_sequence SET value =
        (SELECT value FROM (SELECT value FROM tracker_sequence WHERE id = 1) AS counter) WHERE id = 2" ) &
    local marker=$!
    ( while :; do awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$fcgi/status"; sleep 0.2; done ) \
        >"$SCALE_DIR/rss-samples" 2>/dev/null &
    local sampler=$!
    BENCH_NEW=10 BENCH_HOT=$torrents run_wrk "$name-resync:tracker" "http://127.0.0.1:$HTTP_PORT" announce.lua
    wait "$marker" || true
    for n in $(seq 300); do
        [ "$(scale_stats "s['replica']['resyncs']")" -gt "$resyncs" ] && break
        sleep 0.2
    done
    kill "$sampler" 2>/dev/null || true
    rss_peak=$(sort -n "$SCALE_DIR/rss-samples" | tail -n 1)
    database_after=$(scale_stats "s['answeredFrom']['database']")
    scale_row[$name:resync]=$(printf '%s s; RSS %s MB before, %s MB at most, %s MB after; %s announces answered from the database' \
        "$(scale_stats "round(s['replica']['lastReloadMs'] / 1000, 1)")" "${scale_row[$name:rss-after]% MB}" \
        "$rss_peak" "$(scale_rss)" "$((database_after - database_before))")

    # The full scrape: the first request starts the build; the copy is served once built.
    local rss_before t0 code bytes_gzip bytes_plain
    rss_before=$(scale_rss)
    t0=$(date +%s.%N)
    for n in $(seq 600); do
        code=$(curl -s -H "Accept-Encoding: gzip" -o "$SCALE_DIR/full.gz" -w "%{size_download}" \
            "http://127.0.0.1:$HTTP_PORT/scrape")
        if [ "$(head -c 2 "$SCALE_DIR/full.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then break; fi
        sleep 0.5
    done
    bytes_gzip=$code
    bytes_plain=$(curl -s -o /dev/null -w "%{size_download}" "http://127.0.0.1:$HTTP_PORT/scrape")
    scale_row[$name:scrape]=$(awk -v g="$bytes_gzip" -v p="$bytes_plain" \
        -v b="$(scale_stats "s['fullScrape']['lastBuildMs']")" -v w="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
        -v r0="$rss_before" -v r1="$(scale_rss)" \
        'BEGIN { printf "%.1f MB gzip (%.1f MB plain), built in %.1f s, RSS %+d MB", g / 1048576, p / 1048576, b / 1000, r1 - r0 }')

    # tracker-cron: nothing expired.
    local admin out m_before m_after
    admin=$(scale_ctl_config "$name")
    m_before=$(cpu_ticks "$mysqld")
    out=$("$BUILD_DIR/app/tracker-cron" --config "$admin")
    m_after=$(cpu_ticks "$mysqld")
    scale_row[$name:cron]=$(awk -v o="$out" -v t=$((m_after - m_before)) -v hz="$hz" \
        'BEGIN { sub(/^tracker-cron: /, "", o); printf "%s; MariaDB %.2f s of CPU", o, t / hz }')

    # tracker-cron deleting what the announce runs added (aged by SQL), while wrk announces.
    local aged
    tracker_mariadb "bench_$name" -e "UPDATE peers SET updated = NOW() - INTERVAL 3 DAY WHERE uid >= 'n' AND uid < 'o'"
    aged=$(tracker_mariadb -N "bench_$name" -e "SELECT COUNT(*) FROM peers WHERE uid >= 'n' AND uid < 'o'")
    ( sleep 3; "$BUILD_DIR/app/tracker-cron" --config "$admin" >"$SCALE_DIR/cron.out" 2>&1 ) &
    local cron_pid=$!
    BENCH_NEW=0 BENCH_HOT=$torrents run_wrk "$name-cron:tracker" "http://127.0.0.1:$HTTP_PORT" announce.lua
    wait "$cron_pid" || true
    scale_row[$name:cron-busy]="$(sed 's/^tracker-cron: //' "$SCALE_DIR/cron.out") ($aged aged)"
}

scale_main() {  # scale_main SIZES (comma-separated: small,big,huge)
    local sizes=${1//,/ } size spec
    mkdir -p "$SCALE_DIR"
    for size in $sizes; do
        spec="SCALE_SIZES_$size"
        [ -n "${!spec:-}" ] || { echo "bench/run: unknown size $size (small, big, huge)" >&2; exit 2; }
        # shellcheck disable=SC2086
        scale_fill "$size" ${!spec}
    done
    for size in $sizes; do
        spec="SCALE_SIZES_$size"
        # shellcheck disable=SC2086
        scale_measure "$size" ${!spec}
    done
    local first=${sizes%% *}
    echo
    echo "### Site size (wrk -t2 -c$connections -d${duration}s, Connection: close; median of $rounds round(s))"
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
    for size in $sizes; do
        local rps ratio=
        rps=$(median <<<"${result_rps[$size:tracker]:-0}")
        [ "$size" = "$first" ] || ratio=$(awk -v a="$rps" -v b="$(median <<<"${result_rps[$first:tracker]:-0}")" 'BEGIN { printf " (%.2fx %s)", a / b, "'"$first"'" }')
        scale_row[$size:announce]=$(printf '%.0f/s (rounds:%s), p50 %s ms, p99 %s ms%s; %s' "$rps" \
            "$(printf ' %.0f' ${result_rps[$size:tracker]})" "${result_p50[$size:tracker]}" \
            "${result_p99[$size:tracker]}" "$ratio" "${result_split[$size:tracker]:-}")
        if [ -n "${result_rps[$size-hot:tracker]:-}" ]; then
            rps=$(median <<<"${result_rps[$size-hot:tracker]}")
            scale_row[$size:hot]=$(printf '%.0f/s (rounds:%s), p50 %s ms, p99 %s ms' "$rps" \
                "$(printf ' %.0f' ${result_rps[$size-hot:tracker]})" \
                "${result_p50[$size-hot:tracker]}" "${result_p99[$size-hot:tracker]}")
        fi
        rps=$(median <<<"${result_rps[$size-resync:tracker]:-0}")
        scale_row[$size:resync]="${scale_row[$size:resync]}; $(printf '%.0f' "$rps")/s, p99 ${result_p99[$size-resync:tracker]} ms"
        rps=$(median <<<"${result_rps[$size-cron:tracker]:-0}")
        scale_row[$size:cron-busy]="${scale_row[$size:cron-busy]}; meanwhile $(printf '%.0f' "$rps")/s, p99 ${result_p99[$size-cron:tracker]} ms"
    done
    scale_line "announces (bench/announce.lua)" announce
    scale_line "the same 10,000 hashes, inside this database" hot
    scale_line "start-up: the whole replica in" startup
    scale_line "announces during the start-up" during
    scale_line "MariaDB's CPU with no worker (15 s)" alone
    scale_line "CPU with no requests (30 s)" idle
    scale_line "tracker-fcgi RSS, loaded" rss
    scale_line "the replica's own count (MB)" bytes
    scale_line "tracker-fcgi RSS after the announce runs" rss-after
    scale_line "a resync (a gap in the feed) under announces" resync
    scale_line "full scrape" scrape
    scale_line "tracker-cron, nothing expired" cron
    scale_line "tracker-cron deleting, under announces" cron-busy
}
