"""End to end: many worker hosts on MariaDB replication.

A MariaDB primary (row-based binary log) and a replica following it by GTID, started by
deploy/lib/services.sh (mariadb_primary_start, mariadb_replica_start) in a directory of this
test's own; two tracker-fcgi processes behind one nginx upstream, both writing to the primary,
"B" reading its start-up load and change feeds from the replica (database.replica), "A" from
the primary. Each process can also be reached on its own (/a/..., /b/...) to tell which one
answered.

It measures the replication lag (a write on the primary until the replica has it) and checks,
with margins for a slow machine: a peer announced through either process is handed out by the
other within peerFlushMs + replicaPullMs + the lag; a ban made on the primary (trackerctl)
reaches both; replication stopped, then the replica server stopped, while announces flow
through the shared upstream: every announce is answered, B reads the primary meanwhile
(/stats, /metrics, its log) and goes back to the replica once it has caught up.

Needs TRACKER_FCGI and TRACKERCTL (CMake), mariadb-server and nginx (tests/run installs them).
Everything it starts is stopped, and its directory removed, even when a check fails."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from trackerclient import Tracker, bdecode, compact_peers, query

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FCGI = os.environ.get("TRACKER_FCGI")
TRACKERCTL = os.environ.get("TRACKERCTL")
DB = "tracker"
FLUSH_MS = 250          # peerFlushMs, as configured below (the default)
PULL_MS = 250           # replicaPullMs (the default)
MAX_LAG_MS = 2000       # B's database.replica.maxLagMs
MARGIN = 3.0            # seconds added to every bound: a slow, shared machine
WAIT = 60.0             # longest wait for anything to start or switch
STATE = {}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no %s)\n" % path


def diagnostics():
    d = STATE.get("dir", "")
    parts = []
    for name in ("a.log", "b.log", "nginx-error.log", "primary/mysqld.log",
                 "replica/mysqld.log"):
        parts.append("---- %s ----\n%s" % (name, tail(os.path.join(d, name), 20)))
    return "\n".join(parts)


def poll(what, check, timeout=WAIT, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s: not after %.0f s\n%s" % (what, timeout, diagnostics()))
        time.sleep(interval)


def services(function, timeout=120):
    """One deploy/lib/services.sh function on this test's primary and replica."""
    env = dict(os.environ, ROOT=ROOT, STATE_DIR=STATE["dir"],
               MARIADB_PRIMARY_PORT=str(STATE["primary_port"]),
               MARIADB_REPLICA_PORT=str(STATE["replica_port"]))
    result = subprocess.run(["bash", "-c", 'source "$ROOT/deploy/lib/services.sh" && ' + function],
                            env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError("%s failed:\n%s%s\n%s" % (function, result.stdout, result.stderr,
                                                       diagnostics()))
    return result.stdout + result.stderr


def sock(which):
    return os.path.join(STATE["dir"], which, "mysql.sock")


def sql(which, statement, database=DB):
    result = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", sock(which), "-N", "-B",
                             database, "-e", statement], capture_output=True, timeout=30)
    if result.returncode != 0:
        raise AssertionError("SQL on the %s failed: %s: %s" % (which, statement,
                                                               result.stderr.decode()))
    return result.stdout.decode().strip()


def counter(which):
    return int(sql(which, "SELECT value FROM tracker_sequence WHERE id = 1"))


def replication_lag():
    """Seconds from a write on the primary until the replica has it (polled every 5 ms)."""
    sql("primary", "UPDATE tracker_sequence SET value = value + 1 WHERE id = 1")
    target = counter("primary")
    began = time.monotonic()
    while counter("replica") < target:
        if time.monotonic() - began > WAIT:
            raise AssertionError("the replica has not applied the primary's write after %.0f s"
                                 "\n%s" % (WAIT, sql("replica", "SHOW SLAVE STATUS\\G")))
        time.sleep(0.005)
    return time.monotonic() - began


# ------------------------------------------------------------------ the stack ----

def write_config(name, replica):
    d = STATE["dir"]
    database = {"socket": sock("primary"), "user": "root", "password": "", "name": DB}
    if replica:
        database["replica"] = {"socket": sock("replica"), "maxLagMs": MAX_LAG_MS}
    config = {"database": database, "workers": 6, "poolSize": 4, "peerFlushMs": FLUSH_MS,
              "replicaPullMs": PULL_MS, "listen": os.path.join(d, name + ".sock")}
    path = os.path.join(d, name + ".json")
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return path


def start_fcgi(name, replica):
    d = STATE["dir"]
    config = write_config(name, replica)
    listen = os.path.join(d, name + ".sock")
    with open(os.path.join(d, name + ".log"), "ab") as log:
        process = subprocess.Popen([FCGI, "--config", config], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop():
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    unittest.addModuleCleanup(stop)
    poll("%s's socket" % name, lambda: os.path.exists(listen) or process.poll() is not None)
    assert process.poll() is None, "tracker-fcgi %s exited\n%s" % (name, diagnostics())
    STATE[name] = process
    STATE[name + "_config"] = config


def write_nginx():
    d = STATE["dir"]
    with open("/etc/nginx/fastcgi_params") as f:
        params = f.read()
    with open(os.path.join(d, "fastcgi_params"), "w") as f:
        f.write(params)
    user = ""
    if os.geteuid() == 0:  # workers as the caller, who made the sockets
        user = "user %s %s;" % (subprocess.run(["id", "-un"], capture_output=True,
                                               text=True).stdout.strip(),
                                subprocess.run(["id", "-gn"], capture_output=True,
                                               text=True).stdout.strip())
    built = subprocess.run(["nginx", "-V"], capture_output=True, text=True).stderr
    temp = "".join("    %s_temp_path %s/tmp/%s;\n" % (m, d, m) for m in ("uwsgi", "scgi")
                   if "--without-http_%s_module" % m not in built)
    one = "include fastcgi_params; fastcgi_keep_conn on;"
    conf = """
%(user)s
daemon on;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path %(d)s/tmp/client_body;
    proxy_temp_path %(d)s/tmp/proxy;
    fastcgi_temp_path %(d)s/tmp/fastcgi;
%(temp)s    access_log off;
    # Both worker processes in one upstream, as on a site with several worker hosts.
    upstream trackers {
        server unix:%(d)s/a.sock;
        server unix:%(d)s/b.sock;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:%(port)d;
        location = /announce { %(one)s fastcgi_pass trackers; }
        location = /scrape { %(one)s fastcgi_pass trackers; }
        # Each one on its own, to tell who answers.
        location /a/ { rewrite ^/a(/.*)$ $1 break; %(one)s fastcgi_pass unix:%(d)s/a.sock; }
        location /b/ { rewrite ^/b(/.*)$ $1 break; %(one)s fastcgi_pass unix:%(d)s/b.sock; }
        location / { return 404; }
    }
}
""" % {"user": user, "d": d, "port": STATE["http_port"], "one": one, "temp": temp}
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)


def nginx(*args):
    d = STATE["dir"]
    result = subprocess.run(["nginx", "-p", d + "/", "-c", os.path.join(d, "nginx.conf"),
                             "-e", os.path.join(d, "nginx-error.log")] + list(args),
                            capture_output=True, timeout=30)
    assert result.returncode == 0, "nginx %s: %s" % (" ".join(args), result.stderr.decode())


def stats(which):
    status, _, body = Tracker(port=STATE["http_port"]).get("/%s/stats" % which)
    assert status == 200, "/%s/stats: HTTP %d %r" % (which, status, body)
    return json.loads(body)


def feed_source(which):
    database = stats(which)["replica"].get("database")
    return database["reading"] if database else None


def setUpModule():
    if not FCGI or not shutil.which("nginx"):
        raise unittest.SkipTest("needs TRACKER_FCGI (run through tests/run) and nginx")
    base = os.environ.get("TRACKER_TEST_STATE_DIR") or tempfile.gettempdir()
    # Short: the servers' unix sockets live in it (at most 107 bytes).
    STATE["dir"] = tempfile.mkdtemp(prefix="repl-", dir=base)
    STATE["primary_port"] = free_port()
    STATE["replica_port"] = free_port()
    STATE["http_port"] = free_port()
    STATE["passed"] = True

    def remove():
        # After the workers stopped (cleanups run in reverse): under --sanitize a report in
        # their logs fails the run, as tests/run does for the shared worker's.
        reports = []
        for name in ("a.log", "b.log"):
            text = tail(os.path.join(STATE["dir"], name), 100000)
            if re.search(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", text):
                reports.append("---- %s ----\n%s" % (name, text[-6000:]))
        # The datadirs are large; kept when a check failed, for the logs.
        if STATE["passed"] and not reports:
            shutil.rmtree(STATE["dir"], ignore_errors=True)
        else:
            print("kept %s for its logs" % STATE["dir"])
        if reports:
            raise AssertionError("sanitizer report in tracker-fcgi's log:\n" + "\n".join(reports))
    unittest.addModuleCleanup(remove)
    # Whatever fails below, the servers stop (cleanups run in reverse order).
    unittest.addModuleCleanup(lambda: subprocess.run(
        ["bash", "-c", 'source "$ROOT/deploy/lib/services.sh"; mariadb_replica_stop; '
         'mariadb_primary_stop'], env=dict(os.environ, ROOT=ROOT, STATE_DIR=STATE["dir"]),
        capture_output=True, timeout=180))
    services("mariadb_primary_start && mariadb_replica_start")
    sql("primary", "CREATE DATABASE %s" % DB, database="mysql")
    files = [os.path.join(ROOT, "sql", "schema.sql")] + sorted(
        os.path.join(ROOT, "sql", "migrations", f)
        for f in os.listdir(os.path.join(ROOT, "sql", "migrations")) if f.endswith(".sql"))
    for path in files:
        with open(path, "rb") as f:
            result = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", sock("primary"),
                                     DB], stdin=f, capture_output=True, timeout=120)
        assert result.returncode == 0, "%s: %s" % (path, result.stderr.decode())
    services("replication_wait 60")
    start_fcgi("a", replica=False)
    start_fcgi("b", replica=True)
    write_nginx()
    nginx()
    unittest.addModuleCleanup(lambda: nginx("-s", "stop"))
    poll("nginx", lambda: Tracker(port=STATE["http_port"]).get("/a/stats")[0] == 200)
    poll("B reading the replica", lambda: feed_source("b") == "replica")


# ------------------------------------------------------------------ announces ----

PEER_IPS = {}


def peer_id(key):
    return b"-RP0001-" + key.encode().ljust(12, b"x")[:12]


def announce(path, info_hash, key, port, left=100, event=None):
    params = [("info_hash", info_hash), ("peer_id", peer_id(key)), ("port", str(port)),
              ("uploaded", "0"), ("downloaded", "0"), ("left", str(left)), ("key", key),
              ("compact", "1"), ("numwant", "200")]
    if event:
        params.append(("event", event))
    status, _, body = Tracker(port=STATE["http_port"]).get(path + "?" + query(params))
    assert status == 200, "HTTP %d: %r" % (status, body)
    return bdecode(body)


def ports_of(answer):
    return {p for _, p in compact_peers(answer.get(b"peers", b""))}


def register(name):
    info_hash = os.urandom(20)
    sql("primary", "INSERT INTO torrents (infohash, name) VALUES (UNHEX('%s'), '%s')"
        % (info_hash.hex(), name))
    committed = counter("primary")
    for which in ("a", "b"):
        poll("%s serving %s" % (which, name),
             lambda: stats(which)["replica"]["sequence"] >= committed)
    return info_hash


class Load:
    """Announces through the shared upstream at about `rate` a second, on one thread; every
    answer recorded as (sent, seconds, failure reason or None, error or None)."""

    def __init__(self, info_hash, rate=20):
        self.info_hash = info_hash
        self.rate = rate
        self.records = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        n = 0
        while not self.stopping.is_set():
            sent = time.monotonic()
            key = "load%d" % (n % 40)
            # Seeder, then leecher, then seeder again: each announce changes what a replica
            # holds, so each is numbered and the primary's counter moves all along.
            left = 0 if (n // 40) % 2 else 100
            try:
                answer = announce("/announce", self.info_hash, key, 20000 + n % 40, left=left)
                reason = answer.get(b"failure reason")
                self.records.append((sent, time.monotonic() - sent, reason, None))
            except Exception as error:  # an HTTP error or a bad answer: recorded, not raised
                self.records.append((sent, time.monotonic() - sent, None, repr(error)))
            n += 1
            time.sleep(max(0.0, 1.0 / self.rate - (time.monotonic() - sent)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=30)


class ReplicationTest(unittest.TestCase):

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            STATE["passed"] = False
        return result

    def visible(self, writer, reader, info_hash, key, port, bound):
        """Announces `key` through `writer`, then asks `reader` (as another peer) until it
        hands it out; returns the seconds that took. Fails past `bound` + MARGIN."""
        began = time.monotonic()
        # No `started`: a first peer's meet wait would only blur the figure.
        answer = announce("/%s/announce" % writer, info_hash, key, port, left=0)
        self.assertNotIn(b"failure reason", answer)
        asker = "ask" + key

        def seen():
            return port in ports_of(announce("/%s/announce" % reader, info_hash, asker, 7000))
        poll("%s's peer through %s" % (writer, reader), seen, timeout=bound + MARGIN,
             interval=0.02)
        return time.monotonic() - began

    def test_1_peers_cross_both_ways_within_flush_pull_and_lag(self):
        lags = [replication_lag() for _ in range(5)]
        lag = max(lags)
        print("\nreplication lag (write on the primary until the replica has it): "
              "max %.1f ms of %s" % (lag * 1000, ", ".join("%.1f" % (x * 1000) for x in lags)))
        print("B's feed sees its replica %d ms behind" % stats("b")["replica"]["database"]["lagMs"])
        bound = (FLUSH_MS + PULL_MS) / 1000.0 + lag
        for n, (writer, reader) in enumerate((("a", "b"), ("b", "a"), ("a", "b"), ("b", "a"))):
            info_hash = register("cross %d" % n)
            took = self.visible(writer, reader, info_hash, "p%d" % n, 6100 + n, bound)
            print("a peer announced through %s handed out by %s after %.0f ms "
                  "(peerFlushMs + replicaPullMs + lag = %.0f ms)"
                  % (writer.upper(), reader.upper(), took * 1000, bound * 1000))
            self.assertLess(took, bound + MARGIN)
        self.assertEqual(feed_source("b"), "replica")
        self.assertGreater(stats("b")["replica"]["database"]["pulls"], 0)
        self.assertNotIn("database", stats("a")["replica"])

    def test_2_a_ban_on_the_primary_reaches_both(self):
        info_hash = register("to be banned")
        for which in ("a", "b"):
            answer = announce("/%s/announce" % which, info_hash, "ban" + which, 6200)
            self.assertNotIn(b"failure reason", answer)
        began = time.monotonic()
        result = subprocess.run([TRACKERCTL, "--config", STATE["a_config"], "ban",
                                 info_hash.hex()], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

        def refused(which):
            reason = announce("/%s/announce" % which, info_hash, "ban" + which, 6200).get(
                b"failure reason", b"")
            return b"banned" in reason
        for which in ("a", "b"):
            poll("the ban through %s" % which, lambda: refused(which),
                 timeout=PULL_MS / 1000.0 + MAX_LAG_MS / 1000.0 + MARGIN)
            print("the ban answered by %s after %.0f ms" % (which.upper(),
                                                            (time.monotonic() - began) * 1000))

    def test_3_replication_stopped_and_the_replica_down_are_survived(self):
        info_hash = register("outage load")
        cross = register("outage cross")
        before = stats("b")["replica"]["database"]["fallbacks"]
        with Load(info_hash) as load:
            time.sleep(2.0)
            # Replication stopped: the replica answers, older and older; past maxLagMs B
            # reads the primary.
            services("replication_stop")
            stopped = time.monotonic()
            poll("B leaving the lagging replica", lambda: feed_source("b") == "primary")
            print("\nreplication stopped: B read the primary after %.1f s (maxLagMs %d)"
                  % (time.monotonic() - stopped, MAX_LAG_MS))
            # Meanwhile what A takes in still reaches B, through the primary.
            took = self.visible("a", "b", cross, "lagging", 6300,
                                (FLUSH_MS + PULL_MS) / 1000.0)
            print("while it lags: A's peer handed out by B after %.0f ms" % (took * 1000))
            services("replication_start")
            started = time.monotonic()
            poll("B back on the replica", lambda: feed_source("b") == "replica")
            print("replication started: B read the replica again after %.1f s"
                  % (time.monotonic() - started))

            # The replica server stopped: refused connections, the same way round.
            services("mariadb_replica_stop")
            down = time.monotonic()
            poll("B leaving the stopped replica", lambda: feed_source("b") == "primary")
            self.assertEqual(stats("b")["replica"]["database"]["lagMs"], -1)
            print("replica stopped: B read the primary after %.1f s"
                  % (time.monotonic() - down))
            took = self.visible("b", "a", cross, "down", 6301, (FLUSH_MS + PULL_MS) / 1000.0)
            print("while it is down: B's peer handed out by A after %.0f ms" % (took * 1000))
            took = self.visible("a", "b", cross, "down2", 6302, (FLUSH_MS + PULL_MS) / 1000.0)
            print("while it is down: A's peer handed out by B after %.0f ms" % (took * 1000))
            _, _, metrics = Tracker(port=STATE["http_port"]).get("/b/metrics")
            self.assertIn(b"tracker_replica_reading_database_replica 0", metrics)
            self.assertIn(b"tracker_replica_database_reachable 0", metrics)
            services("mariadb_replica_start")
            back = time.monotonic()
            poll("B back on the restarted replica", lambda: feed_source("b") == "replica")
            print("replica started: B read the replica again after %.1f s"
                  % (time.monotonic() - back))
            time.sleep(2.0)
        records = load.records
        _, _, metrics = Tracker(port=STATE["http_port"]).get("/b/metrics")
        self.assertIn(b"tracker_replica_reading_database_replica 1", metrics)
        after = stats("b")
        self.assertGreaterEqual(after["replica"]["database"]["fallbacks"], before + 2)
        self.assertEqual(after["replica"]["reloads"], 1, "a switch must cost no reload")

        # Every announce through the shared upstream answered and accepted, none slow.
        bad = [r for r in records if r[2] is not None or r[3] is not None]
        slowest = max(r[1] for r in records)
        print("%d announces through the shared upstream meanwhile, %d refused or failed, "
              "slowest %.0f ms" % (len(records), len(bad), slowest * 1000))
        self.assertGreater(len(records), 40)
        self.assertEqual(bad, [], diagnostics())
        self.assertLess(slowest, 5.0)

        with open(os.path.join(STATE["dir"], "b.log"), errors="replace") as f:
            log = f.read()
        self.assertIn("reading the primary: the database replica is further behind", log)
        self.assertIn("reading the primary: the database replica is unreachable", log)
        self.assertIn("reading the database replica (", log)
        # And everything B holds agrees with the primary once it is back.
        self.visible("a", "b", cross, "after", 6303, (FLUSH_MS + PULL_MS) / 1000.0 + 1.0)


if __name__ == "__main__":
    unittest.main()
