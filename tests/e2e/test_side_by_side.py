"""End to end: the side-by-side period of a move from the PHP tracker. The PHP tracker's own
announce.php and scrape.php (tests/e2e/php-tracker, unchanged; only backend/config.php is
written, with this test's credentials in the file's own shape) run under a private php-fpm
behind a private nginx, and tracker-fcgi runs beside them, both on ONE database of this test's
own, made from the PHP's db.sql and then migrated with `trackerctl migrate`, as a site does.

Each test says which step of the README's "Moving a live site from the PHP tracker" it covers:
  1 back up             setUpModule: mariadb-dump of the PHP's database, restored and compared
  2 install             the built binaries (TRACKER_FCGI, TRACKERCTL, TRACKER_CRON)
  3 accounts (grants)   setUpModule: `trackerctl grants` printed and run, nothing more
  4 migrate             setUpModule: `trackerctl migrate` as the migrating account, the
                        serving GRANTs, `migrate --definer` (the triggers to the serving
                        account), the migrating one dropped; the PHP serving throughout;
                        MigratedWhileLiveTest
  5 the PHP's account   SqlModeTest: the non-strict sql_mode for the PHP's account only
  6 tracker-fcgi beside SideBySideTest, RequireCryptoTest
  7 switch the URLs     SwitchOverTest
  8 tracker-cron        CronTest
  9 retire the PHP      SwitchOverTest

Needs php-fpm (php8.2-fpm) with pdo_mysql (php8.2-mysql) and nginx; tests/run installs them.
Everything started is stopped by PID; every wait polls with a deadline.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from trackerclient import Tracker, bdecode, compact_peers, encode_all

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PHP_TRACKER = os.path.join(HERE, "php-tracker")
DB_SOCKET = os.environ.get("TRACKER_TEST_DB_SOCKET", "")
DB = "tracker_side_by_side"
# The PHP's own account: init_connect (the sql_mode below) only acts on it.
PHP_USER = "sbs_php"
PHP_PASSWORD = "php-pw"
RUN_USER, RUN_PASSWORD = "sbs_run", "run-pw"      # tracker-fcgi, tracker-cron, trackerctl
MIG_USER, MIG_PASSWORD = "sbs_mig", "mig-pw"      # trackerctl migrate, then dropped
# What a site puts in its server config (README step 5): the PHP's account gets the sql_mode of
# the MySQL 5.6 era; every other account keeps the server's strict default.
INIT_CONNECT = ("SET SESSION sql_mode = IF(CURRENT_USER() = '%s@localhost', "
                "'NO_ENGINE_SUBSTITUTION', @@SESSION.sql_mode)" % PHP_USER)
WAIT = 15.0

STATE = {}


def sql(statement, database=DB, user="root", password=""):
    """Runs SQL on the test server; returns its tab-separated output."""
    argv = ["mariadb", "--no-defaults", "-u" + user, "-S", DB_SOCKET, "-N", "-B"]
    if password:
        argv.append("-p" + password)
    result = subprocess.run(argv + [database, "-e", statement], capture_output=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError("mariadb -u%s: %s\n%s" % (user, statement,
                                                        result.stderr.decode("utf-8", "replace")))
    return result.stdout.decode()


def binary(env, *fallbacks):
    path = os.environ.get(env, "")
    if path and os.access(path, os.X_OK):
        return path
    for candidate in fallbacks:
        for match in sorted(glob.glob(candidate), reverse=True):
            if os.access(match, os.X_OK):
                return match
    raise AssertionError("%s not found (set %s; tests/run installs and sets what it needs)"
                         % (fallbacks[0] if fallbacks else env, env))


def tail(path, lines=30):
    if not os.path.exists(path):
        return "--- %s: missing ---\n" % path
    with open(path, "rb") as f:
        text = f.read()[-32 * 1024:].decode("utf-8", "replace")
    return "--- %s ---\n%s\n" % (path, "\n".join(text.splitlines()[-lines:]))


def diagnostics():
    d = STATE.get("dir", "")
    return "".join(tail(os.path.join(d, name)) for name in
                   ("php-fpm.log", "php-errors.log", "nginx-error.log", "tracker-fcgi.log"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(what, check, timeout=WAIT, interval=0.05):
    """check() until it returns something true; its value. Fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s: not after %.0f s\n%s" % (what, timeout, diagnostics()))
        time.sleep(interval)


def stop(process, grace=15):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ------------------------------------------------------------------ the two trackers ----

def raw_get(port, path, user_agent="test-client/1.0"):
    return Tracker(port=port).get(path, user_agent=user_agent)


def announce(port, path, info_hash, key, left, peer_port, event=None, **extra):
    """One announce; returns (HTTP status, decoded answer or the raw body)."""
    params = [("info_hash", info_hash), ("peer_id", b"-SB0001-" + key.encode().ljust(12, b"x")),
              ("port", str(peer_port)), ("uploaded", "0"), ("downloaded", "0"),
              ("left", str(left)), ("key", key), ("compact", "1")]
    if event:
        params.append(("event", event))
    params += list(extra.items())
    status, headers, body = raw_get(port, path + "?" + "&".join(
        "%s=%s" % (k, encode_all(v) if isinstance(v, bytes) else v) for k, v in params))
    if status != 200:
        return status, body
    return status, bdecode(body)


def php_announce(info_hash, key, left, peer_port, event=None, **extra):
    """Through the PHP tracker (the site's nginx at /announce.php while it serves it)."""
    status, answer = announce(STATE["site_port"], "/announce.php", info_hash, key, left,
                              peer_port, event, **extra)
    assert status == 200 and b"failure reason" not in answer, (
        "the PHP's announce: HTTP %d %r\n%s" % (status, answer, diagnostics()))
    # The PHP never hands out peers and never says "external ip": what it answers is its own.
    assert b"external ip" not in answer, answer
    return answer


def fcgi_announce(info_hash, key, left, peer_port, event=None, **extra):
    """Through tracker-fcgi, beside the PHP (its own server block, deploy/nginx's snippets)."""
    status, answer = announce(STATE["beside_port"], "/announce", info_hash, key, left,
                              peer_port, event, **extra)
    assert status == 200 and b"failure reason" not in answer, (
        "tracker-fcgi's announce: HTTP %d %r\n%s" % (status, answer, diagnostics()))
    assert b"external ip" in answer, answer
    return answer


def scrape(port, path, info_hash):
    status, _, body = raw_get(port, path + "?info_hash=" + encode_all(info_hash))
    assert status == 200, "%s: HTTP %d %r\n%s" % (path, status, body, diagnostics())
    entry = bdecode(body)[b"files"][info_hash]
    return entry[b"complete"], entry[b"incomplete"], entry[b"downloaded"]


def stats():
    status, _, body = raw_get(STATE["beside_port"], "/tracker/stats")
    assert status == 200, "/tracker/stats: HTTP %d %r" % (status, body)
    return json.loads(body)


def written():
    """Waits until tracker-fcgi's write-behind has written every announce it took."""
    poll("tracker-fcgi's write-behind empty", lambda: stats()["peerWrites"]["pending"] == 0)


def caught_up():
    """Waits until tracker-fcgi's replica has followed every change committed so far, the
    PHP's included (the triggers number them)."""
    committed = int(sql("SELECT value FROM tracker_sequence WHERE id = 1").strip())
    poll("tracker-fcgi's replica at sequence %d" % committed,
         lambda: stats()["replica"]["sequence"] >= committed)


def db_counts(info_hash):
    """(seeders, leechers, downloaded) from the PHP's own tables, counted as the PHP counts."""
    row = sql("SELECT (SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND residual = 0), "
              "(SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND residual > 0), downloaded "
              "FROM torrents t WHERE infohash = UNHEX('%s')" % info_hash.hex())
    return tuple(int(x) for x in row.split())


def swarm_counters(info_hash):
    row = sql("SELECT s.seeders, s.leechers FROM tracker_swarms s JOIN torrents t USING (tid) "
              "WHERE t.infohash = UNHEX('%s')" % info_hash.hex())
    return tuple(int(x) for x in row.split())


def register(name):
    info_hash = os.urandom(20)
    sql("INSERT INTO torrents (infohash, name) VALUES (UNHEX('%s'), '%s')"
        % (info_hash.hex(), name))
    caught_up()
    return info_hash


def peers_of(answer):
    return sorted(port for _, port in compact_peers(answer[b"peers"]))


# ------------------------------------------------------------------------ the stack ----

def write_php_config(docroot):
    """backend/config.php in the PHP's own shape, with this test's database settings."""
    with open(os.path.join(PHP_TRACKER, "upload", "backend", "config.php")) as f:
        shipped = f.read()
    original = ("'dbDsn'  => 'mysql:host=localhost;dbname=open;charset=utf8'",
                "'dbUser' => 'root'", "'dbPass' => ''")
    for line in original:
        assert line in shipped, "config.php no longer has %r" % line
    ours = shipped.replace(original[0], "'dbDsn'  => 'mysql:unix_socket=%s;dbname=%s;charset=utf8'"
                           % (DB_SOCKET, DB))
    ours = ours.replace(original[1], "'dbUser' => '%s'" % PHP_USER)
    ours = ours.replace(original[2], "'dbPass' => '%s'" % PHP_PASSWORD)
    with open(os.path.join(docroot, "backend", "config.php"), "w") as f:
        f.write(ours)


def site_conf(d, port, switched):
    """The site's server block: its own page, its own PHP (php-fpm), and the PHP tracker's
    pretty URLs as its .htaccess made them. Switched (README step 7): deploy/nginx's
    tracker-locations.conf included above the site's PHP location."""
    tracker = "    include %s/tracker-locations.conf;\n" % d if switched else (
        "    location = /announce { rewrite ^ /announce.php last; }\n"
        "    location = /scrape { rewrite ^ /scrape.php last; }\n")
    return """
server {
    listen 127.0.0.1:%(port)d;
    root %(d)s/site;
%(tracker)s    location ~ \\.php$ {
        try_files $uri =404;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass unix:%(d)s/php-fpm.sock;
    }
    location /backend/ { deny all; }
    location / { try_files $uri =404; }
}
""" % {"port": port, "d": d, "tracker": tracker}


def write_nginx(switched):
    d = STATE["dir"]
    with open("/etc/nginx/fastcgi_params") as f:
        params = f.read()
    with open(os.path.join(d, "fastcgi_params"), "w") as f:
        f.write(params)
    with open(os.path.join(ROOT, "deploy", "nginx", "tracker-http.conf")) as f:
        http_level = f.read().replace("unix:/run/tracker/tracker-fcgi.sock",
                                      "unix:%s/tracker-fcgi.sock" % d)
    shutil.copy(os.path.join(ROOT, "deploy", "nginx", "tracker-locations.conf"), d)
    # tracker-fcgi beside the PHP: a server of its own with the shipped snippets, where a
    # site tries it before it switches (README step 6).
    beside = """
server {
    listen 127.0.0.1:%d;
    include %s/tracker-locations.conf;
}
""" % (STATE["beside_port"], d)
    user = "user root root;" if os.geteuid() == 0 else ""
    main = """%(user)s
daemon on;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path %(d)s/tmp/client_body;
    proxy_temp_path %(d)s/tmp/proxy;
    fastcgi_temp_path %(d)s/tmp/fastcgi;
    uwsgi_temp_path %(d)s/tmp/uwsgi;
    scgi_temp_path %(d)s/tmp/scgi;
    access_log %(d)s/nginx-access.log;
    default_type application/octet-stream;
%(http_level)s
%(site)s
%(beside)s
}
""" % {"user": user, "d": d, "http_level": http_level,
       "site": site_conf(d, STATE["site_port"], switched), "beside": beside}
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(main)


def nginx_workers():
    """The PIDs of the nginx master's children."""
    with open(os.path.join(STATE["dir"], "nginx.pid")) as f:
        master = f.read().strip()
    children = set()
    for task in glob.glob("/proc/%s/task/*/children" % master):
        with open(task) as f:
            children.update(f.read().split())
    assert children, "nginx (pid %s) has no workers" % master
    return children


def nginx(*args):
    d = STATE["dir"]
    result = subprocess.run(["nginx", "-p", d + "/", "-c", os.path.join(d, "nginx.conf")]
                            + list(args), capture_output=True, timeout=30)
    assert result.returncode == 0, "nginx %s: %s" % (" ".join(args), result.stderr.decode())


def start_php_fpm():
    d = STATE["dir"]
    fpm = binary("TRACKER_TEST_PHP_FPM", "/usr/sbin/php-fpm*")
    conf = os.path.join(d, "php-fpm.conf")
    with open(conf, "w") as f:
        f.write("""; A private php-fpm for the PHP tracker: its socket, pid and logs in the test's dir.
[global]
pid = %(d)s/php-fpm.pid
error_log = %(d)s/php-fpm.log
daemonize = no

[tracker]
listen = %(d)s/php-fpm.sock
pm = static
pm.max_children = 4
catch_workers_output = yes
php_admin_flag[log_errors] = on
php_admin_value[error_log] = %(d)s/php-errors.log
""" % {"d": d})
    argv = [fpm, "--fpm-config", conf, "--nodaemonize"]
    if os.geteuid() == 0:
        argv.append("--allow-to-run-as-root")  # the pool then runs as root, as we do
    with open(os.path.join(d, "php-fpm.stderr"), "ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    STATE["cleanups"].append(lambda: stop(process))
    poll("php-fpm's socket", lambda: os.path.exists(os.path.join(d, "php-fpm.sock"))
         or process.poll() is not None)
    assert process.poll() is None, "php-fpm exited\n" + tail(os.path.join(d, "php-fpm.stderr"))


def tracker_config(path, user, password, **extra):
    config = {"database": {"socket": DB_SOCKET, "user": user, "password": password,
                           "name": DB}}
    config.update(extra)
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return path


def trackerctl(*args, config=None):
    result = subprocess.run([STATE["trackerctl"], "--config", config or STATE["run_config"]]
                            + list(args), capture_output=True, timeout=120)
    assert result.returncode == 0, "trackerctl %s: %s %s" % (
        " ".join(args), result.stdout.decode(), result.stderr.decode())
    return result.stdout.decode()


def start_tracker_fcgi():
    d = STATE["dir"]
    sock = os.path.join(d, "tracker-fcgi.sock")
    config = tracker_config(os.path.join(d, "tracker-fcgi.json"), RUN_USER, RUN_PASSWORD,
                            listen=sock, workers=4, poolSize=3)
    with open(os.path.join(d, "tracker-fcgi.log"), "ab") as log:
        process = subprocess.Popen([STATE["fcgi"], "--config", config],
                                   stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    STATE["cleanups"].append(lambda: stop(process))
    poll("tracker-fcgi's socket", lambda: os.path.exists(sock) or process.poll() is not None)
    assert process.poll() is None, "tracker-fcgi exited\n" + diagnostics()
    STATE["fcgi_process"] = process


def setUpModule():
    if not DB_SOCKET:
        raise RuntimeError("TRACKER_TEST_DB_SOCKET is not set: run through tests/run")
    STATE["cleanups"] = []
    try:
        start_stack()
    except BaseException:
        tearDownModule()
        raise


def start_stack():
    STATE["fcgi"] = binary("TRACKER_FCGI")
    STATE["trackerctl"] = binary("TRACKERCTL")
    STATE["cron"] = binary("TRACKER_CRON")
    # Short: socket paths must fit in 107 bytes.
    d = tempfile.mkdtemp(prefix="tracker-sbs-")
    STATE["dir"] = d
    STATE["cleanups"].append(lambda: shutil.rmtree(d, ignore_errors=True))
    os.makedirs(os.path.join(d, "tmp"))
    STATE["site_port"], STATE["beside_port"] = free_port(), free_port()

    # The site as it runs today: the PHP's database from its db.sql, an account of its own.
    drop_database_and_accounts()
    STATE["cleanups"].append(drop_database_and_accounts)
    sql("CREATE DATABASE %s" % DB, database="")
    with open(os.path.join(PHP_TRACKER, "db.sql"), "rb") as schema:
        subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", DB_SOCKET, DB],
                       stdin=schema, check=True, capture_output=True, timeout=60)
    sql("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'; "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON %s.* TO '%s'@'localhost'"
        % (PHP_USER, PHP_PASSWORD, DB, PHP_USER), database="")
    STATE["init_connect"] = sql("SELECT @@GLOBAL.init_connect", database="").rstrip("\n")
    STATE["cleanups"].append(lambda: sql("SET GLOBAL init_connect = '%s'" % STATE[
        "init_connect"].replace("\\", "\\\\").replace("'", "\\'"), database=""))
    set_init_connect(INIT_CONNECT)

    site = os.path.join(d, "site")
    shutil.copytree(os.path.join(PHP_TRACKER, "upload"), site)
    for path in glob.glob(os.path.join(site, "**"), recursive=True):
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    write_php_config(site)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("the site's own page\n")
    start_php_fpm()
    write_nginx(switched=False)
    nginx()
    STATE["cleanups"].append(lambda: nginx("-s", "stop"))
    poll("the site's nginx", lambda: raw_get(STATE["site_port"], "/index.html")[0] == 200)

    # The PHP serves, before any of our changes: a PHP-era torrent and peer.
    old = os.urandom(20)
    STATE["old_hash"] = old
    sql("INSERT INTO torrents (infohash, name) VALUES (UNHEX('%s'), 'php era')" % old.hex())
    answer = php_announce(old, "era1", 0, 6001, "started", requirecrypto="1")
    assert (answer[b"complete"], answer[b"incomplete"]) == (0, 0), answer

    # Step 1, back up: what a site runs before it changes anything, restored to prove it.
    backup = os.path.join(d, "backup.sql")
    with open(backup, "wb") as out:
        subprocess.run(["mariadb-dump", "--no-defaults", "-uroot", "-S", DB_SOCKET,
                        "--single-transaction", "--routines", "--triggers", DB],
                       stdout=out, check=True, timeout=60)
    sql("DROP DATABASE IF EXISTS sbs_restore; CREATE DATABASE sbs_restore", database="")
    with open(backup, "rb") as dump:
        subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", DB_SOCKET, "sbs_restore"],
                       stdin=dump, check=True, timeout=60)
    STATE["restored"] = sql("SELECT HEX(t.infohash), p.uid, p.port FROM sbs_restore.peers p "
                            "JOIN sbs_restore.torrents t USING (tid)", database="")
    sql("DROP DATABASE sbs_restore", database="")

    # Step 3, the accounts: exactly what `trackerctl grants` prints, nothing more.
    sql("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'; CREATE USER '%s'@'localhost' "
        "IDENTIFIED BY '%s'" % (RUN_USER, RUN_PASSWORD, MIG_USER, MIG_PASSWORD), database="")
    STATE["run_config"] = tracker_config(os.path.join(d, "run.json"), RUN_USER, RUN_PASSWORD)
    STATE["mig_config"] = tracker_config(os.path.join(d, "mig.json"), MIG_USER, MIG_PASSWORD)
    # The serving account's grants name our tables, which exist once migrated: the migrating
    # account's grant first, then the migration, then the serving account's.
    printed = trackerctl("grants", MIG_USER)
    grants = [line for line in printed.splitlines() if line.startswith("GRANT ")]
    migrating = [g for g in grants if "TO '%s'@'localhost'" % MIG_USER in g]
    serving = [g for g in grants if "TO '%s'@'localhost'" % RUN_USER in g]
    assert len(migrating) == 2 and len(serving) + 2 == len(grants), printed
    assert "--definer '%s'@'localhost'" % RUN_USER in printed, printed
    sql(" ".join(migrating), database="")

    # Step 4, migrate, as the migrating account, the PHP serving before and after; the
    # triggers run as the serving account, so the migrating one is dropped once done.
    STATE["migrate"] = trackerctl("migrate", config=STATE["mig_config"])
    sql(" ".join(serving), database="")
    trackerctl("migrate", "--definer", "%s@localhost" % RUN_USER, config=STATE["mig_config"])
    sql("DROP USER '%s'@'localhost'" % MIG_USER, database="")

    # Step 6, tracker-fcgi beside the PHP.
    start_tracker_fcgi()
    poll("tracker-fcgi's stats through nginx",
         lambda: raw_get(STATE["beside_port"], "/tracker/stats")[0] == 200)


def set_init_connect(statement):
    sql("SET GLOBAL init_connect = '%s'" % statement.replace("'", "\\'"), database="")


def drop_database_and_accounts():
    sql("DROP DATABASE IF EXISTS %s; DROP USER IF EXISTS '%s'@'localhost', '%s'@'localhost', "
        "'%s'@'localhost'" % (DB, PHP_USER, RUN_USER, MIG_USER), database="")


def tearDownModule():
    errors = []
    for cleanup in reversed(STATE.get("cleanups", [])):
        try:
            cleanup()
        except Exception as error:  # every cleanup runs; the first failure is reported
            errors.append(error)
    STATE["cleanups"] = []
    if errors:
        raise errors[0]


# ------------------------------------------------------------------------ the tests ----

class MigratedWhileLiveTest(unittest.TestCase):
    """Steps 1, 3, 4: the backup holds the PHP's rows; the migration keeps them, counts them,
    and the PHP goes on serving on the migrated tables."""

    def test_backup_migration_and_the_php_era_peer(self):
        old = STATE["old_hash"]
        self.assertEqual(STATE["restored"], "%s\tera1\t6001\n" % old.hex().upper())
        self.assertIn("applied now", STATE["migrate"])
        # The PHP-era seeder is in the counters the migration made, and tracker-fcgi serves it.
        self.assertEqual(swarm_counters(old), (1, 0))
        answer = fcgi_announce(old, "new1", 100, 6002, "started", supportcrypto="1")
        self.assertEqual(peers_of(answer), [6001])
        # tracker-fcgi's answer counts the announcing peer itself; the PHP's does not.
        self.assertEqual((answer[b"complete"], answer[b"incomplete"]), (1, 1))
        written()
        answer = php_announce(old, "era2", 50, 6003, "started", requirecrypto="1")
        self.assertEqual((answer[b"complete"], answer[b"incomplete"]), (1, 1))
        self.assertEqual(db_counts(old), (1, 2, 0))


class SqlModeTest(unittest.TestCase):
    """Step 5. Under MariaDB 10.11's default sql_mode (STRICT_TRANS_TABLES) every announce
    the PHP writes fails: it binds requirecrypto as the string '0' or '1' into peers.crypt
    BIT(1), "Data too long for column 'crypt'" (1406), and PHP 8's PDO throws: HTTP 500, no
    row. Non-strict, MariaDB stores the out-of-range value as 1 with a warning. The server's
    init_connect gives the non-strict mode to the PHP's account only (the PHP cannot be told
    to set it, and MariaDB has no per-account sql_mode)."""

    def tearDown(self):
        set_init_connect(INIT_CONNECT)

    def test_strict_mode_fails_the_php_and_init_connect_fixes_it_for_its_account_only(self):
        info_hash = register("sql mode")
        set_init_connect("")
        status, body = announce(STATE["site_port"], "/announce.php", info_hash, "strict1", 9,
                                6101, "started", requirecrypto="0")
        self.assertEqual(status, 500, body)
        status, body = announce(STATE["site_port"], "/announce.php", info_hash, "strict2", 9,
                                6102, "started", requirecrypto="1")
        self.assertEqual(status, 500, body)
        self.assertEqual(db_counts(info_hash), (0, 0, 0))
        with open(os.path.join(STATE["dir"], "php-errors.log"), "rb") as f:
            self.assertIn(b"1406 Data too long for column 'crypt'", f.read())

        set_init_connect(INIT_CONNECT)
        php_announce(info_hash, "strict1", 9, 6101, "started", requirecrypto="0")
        self.assertEqual(db_counts(info_hash), (0, 1, 0))
        # Only the PHP's account: the others keep the server's strict mode.
        strict = "STRICT_TRANS_TABLES"
        self.assertIn(strict, sql("SELECT @@SESSION.sql_mode", user=RUN_USER,
                                  password=RUN_PASSWORD))
        self.assertNotIn(strict, sql("SELECT @@SESSION.sql_mode", user=PHP_USER,
                                     password=PHP_PASSWORD))

    def test_without_requirecrypto_the_php_fails_in_every_sql_mode(self):
        # requirecrypto absent: the PHP binds NULL into the NOT NULL crypt column, which a
        # single-row INSERT refuses whatever the sql_mode ("cannot be null", 1048).
        info_hash = register("no requirecrypto")
        for init in ("", INIT_CONNECT):
            set_init_connect(init)
            status, body = announce(STATE["site_port"], "/announce.php", info_hash, "nocr1", 9,
                                    6111, "started", supportcrypto="1")
            self.assertEqual(status, 500, (init, body))
        self.assertEqual(db_counts(info_hash), (0, 0, 0))
        with open(os.path.join(STATE["dir"], "php-errors.log"), "rb") as f:
            self.assertIn(b"1048 Column 'crypt' cannot be null", f.read())
        # The same client through tracker-fcgi is served.
        fcgi_announce(info_hash, "nocr1", 9, 6111, "started", supportcrypto="1")
        written()
        self.assertEqual(db_counts(info_hash), (0, 1, 0))


class SideBySideTest(unittest.TestCase):
    """Step 6: one database, both trackers. A peer announced through either is in the other's
    counts; tracker-fcgi hands out the PHP's peers (through its change feed); the PHP hands
    out none (its `peers` is always an empty list) but counts tracker-fcgi's."""

    def test_peers_announced_through_the_php_are_handed_out_by_tracker_fcgi(self):
        info_hash = register("php to fcgi")
        answer = php_announce(info_hash, "p2f1", 0, 6201, "started", requirecrypto="1")
        self.assertEqual(answer[b"peers"], [])
        php_announce(info_hash, "p2f2", 0, 6202, "started", requirecrypto="1")
        caught_up()
        answer = fcgi_announce(info_hash, "p2f3", 100, 6203, "started", supportcrypto="1")
        self.assertEqual(peers_of(answer), [6201, 6202])
        self.assertEqual((answer[b"complete"], answer[b"incomplete"]), (2, 1))

    def test_peers_announced_through_tracker_fcgi_are_counted_by_the_php(self):
        info_hash = register("fcgi to php")
        fcgi_announce(info_hash, "f2p1", 0, 6301, "started")
        fcgi_announce(info_hash, "f2p2", 10, 6302, "started")
        written()
        answer = php_announce(info_hash, "f2p3", 10, 6303, "started", requirecrypto="1")
        self.assertEqual((answer[b"complete"], answer[b"incomplete"]), (1, 1))
        self.assertEqual(answer[b"peers"], [])  # the PHP never hands out peers, even these
        # A PHP peer that re-announces through tracker-fcgi is one row, not two.
        caught_up()
        answer = fcgi_announce(info_hash, "f2p3", 10, 6303)
        self.assertEqual(peers_of(answer), [6301, 6302])
        written()
        self.assertEqual(db_counts(info_hash), (1, 2, 0))

    def test_counts_agree_after_started_completed_stopped_through_both(self):
        info_hash = register("mixed events")
        # Six leechers, three through each tracker.
        for n in range(3):
            php_announce(info_hash, "mx%d" % n, 100, 6400 + n, "started", requirecrypto="1")
            fcgi_announce(info_hash, "mx%d" % (n + 3), 100, 6403 + n, "started")
        written()
        caught_up()
        # Completions: a PHP peer through tracker-fcgi, a tracker-fcgi peer through the PHP,
        # one of each through its own.
        fcgi_announce(info_hash, "mx0", 0, 6400, "completed")
        written()
        php_announce(info_hash, "mx3", 0, 6403, "completed", requirecrypto="1")
        php_announce(info_hash, "mx1", 0, 6401, "completed", requirecrypto="1")
        caught_up()
        fcgi_announce(info_hash, "mx4", 0, 6404, "completed")
        written()
        # Stops, crossed the same way.
        php_announce(info_hash, "mx4", 0, 6404, "stopped", requirecrypto="1")
        caught_up()
        fcgi_announce(info_hash, "mx2", 100, 6402, "stopped")
        written()
        caught_up()
        # Left: mx0, mx1, mx3 seeders; mx5 leecher; four completions.
        expected = (3, 1, 4)
        self.assertEqual(db_counts(info_hash), expected)
        self.assertEqual(swarm_counters(info_hash), expected[:2])
        self.assertEqual(scrape(STATE["site_port"], "/scrape.php", info_hash), expected)
        self.assertEqual(scrape(STATE["beside_port"], "/scrape", info_hash), expected)
        answer = fcgi_announce(info_hash, "mx5", 100, 6405, supportcrypto="1")
        self.assertEqual((answer[b"complete"], answer[b"incomplete"], answer[b"downloaded"]),
                         expected)
        self.assertEqual(peers_of(answer), [6400, 6401, 6403])
        answer = php_announce(info_hash, "mx5", 100, 6405, requirecrypto="1")
        self.assertEqual((answer[b"complete"], answer[b"incomplete"], answer[b"downloaded"]),
                         expected)


class RequireCryptoTest(unittest.TestCase):
    """Step 6, what a site sees of the PHP's crypt column: non-strict, requirecrypto=0 is
    stored as crypt = 1, so tracker-fcgi takes that peer for one that requires encryption and
    hands it only to clients that can do it (supportcrypto or requirecrypto), until the peer
    announces through tracker-fcgi, which writes what it sent."""

    def test_requirecrypto_zero_through_the_php_is_stored_as_one(self):
        info_hash = register("requirecrypto")
        php_announce(info_hash, "rc1", 0, 6501, "started", requirecrypto="0")
        self.assertEqual(sql("SELECT p.crypt + 0 FROM peers p JOIN torrents t USING (tid) "
                             "WHERE t.infohash = UNHEX('%s')" % info_hash.hex()).strip(), "1")
        caught_up()
        plain = fcgi_announce(info_hash, "rc2", 10, 6502, "started")
        self.assertEqual(peers_of(plain), [])
        self.assertEqual(plain[b"complete"], 1)  # counted, but not handed out
        capable = fcgi_announce(info_hash, "rc3", 10, 6503, "started", supportcrypto="1")
        self.assertEqual(peers_of(capable), [6501, 6502])
        # Its next announce goes to tracker-fcgi (after the switch): crypt is what it sent.
        fcgi_announce(info_hash, "rc1", 0, 6501, requirecrypto="0")
        written()
        caught_up()
        self.assertEqual(sql("SELECT p.crypt + 0 FROM peers p JOIN torrents t USING (tid) "
                             "WHERE p.uid = 'rc1' AND t.infohash = UNHEX('%s')"
                             % info_hash.hex()).strip(), "0")
        plain = fcgi_announce(info_hash, "rc2", 10, 6502)
        self.assertEqual(peers_of(plain), [6501, 6503])


class CronTest(unittest.TestCase):
    """Step 8: tracker-cron instead of the PHP's cron.php, on the peers the PHP wrote."""

    def run_cron(self):
        result = subprocess.run([STATE["cron"], "--config", STATE["run_config"]],
                                capture_output=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result.stdout.decode()

    def test_expired_php_peers_are_removed_and_the_counts_stay_right(self):
        info_hash = register("cron")
        php_announce(info_hash, "cr1", 0, 6601, "started", requirecrypto="1")
        php_announce(info_hash, "cr2", 10, 6602, "started", requirecrypto="1")
        php_announce(info_hash, "cr3", 10, 6603, "started", requirecrypto="1")
        fcgi_announce(info_hash, "cr4", 0, 6604, "started")
        written()
        caught_up()
        # Two of the PHP's peers stopped announcing an hour ago (past minInterval +
        # maxInterval); the torrent itself had no completion for a week, which the PHP's
        # cron.php takes for a dead torrent although it has peers.
        sql("UPDATE peers p JOIN torrents t USING (tid) SET p.updated = NOW() - INTERVAL 1 HOUR"
            " WHERE t.infohash = UNHEX('%s') AND p.uid IN ('cr1', 'cr2')" % info_hash.hex())
        sql("UPDATE torrents SET updated = NOW() - INTERVAL 8 DAY WHERE infohash = UNHEX('%s')"
            % info_hash.hex())
        self.assertEqual(db_counts(info_hash), (2, 2, 0))
        out = self.run_cron()
        self.assertRegex(out, r"removed [1-9][0-9]* peer", out)
        expected = (1, 1, 0)
        self.assertEqual(db_counts(info_hash), expected)
        self.assertEqual(swarm_counters(info_hash), expected[:2])
        self.assertEqual(scrape(STATE["site_port"], "/scrape.php", info_hash), expected)
        self.assertEqual(scrape(STATE["beside_port"], "/scrape", info_hash), expected)
        caught_up()
        answer = fcgi_announce(info_hash, "cr5", 10, 6605, "started", supportcrypto="1")
        self.assertEqual(peers_of(answer), [6603, 6604])
        self.assertEqual((answer[b"complete"], answer[b"incomplete"]), (1, 2))
        # Run again: nothing more goes, and the busy torrent stays registered.
        self.run_cron()
        written()
        self.assertEqual(db_counts(info_hash), (1, 2, 0))


class SwitchOverTest(unittest.TestCase):
    """Steps 7 and 9: the site's server block switched to deploy/nginx/tracker-locations.conf
    (the PHP's URLs, .php ones included, now reach tracker-fcgi; the site's own pages and PHP
    stay), then the PHP tracker's files deleted."""

    def test_switch_the_site_then_retire_the_php(self):
        info_hash = register("switch")
        php_announce(info_hash, "sw1", 0, 6701, "started", requirecrypto="1")
        # The PHP's pretty URL, served by the PHP before the switch.
        status, answer = announce(STATE["site_port"], "/announce", info_hash, "sw2", 10, 6702,
                                  "started", requirecrypto="1")
        self.assertEqual(status, 200)
        self.assertNotIn(b"external ip", answer)
        caught_up()

        write_nginx(switched=True)
        old_workers = nginx_workers()
        nginx("-s", "reload")
        # Until the old workers have exited, one of them may still take a connection and
        # answer with the old config: wait for them to be gone.
        poll("nginx's old workers gone after the reload",
             lambda: not old_workers & nginx_workers())
        for path in ("/announce", "/announce.php", "/tracker/announce.php"):
            status, answer = announce(STATE["site_port"], path, info_hash, "sw3", 10, 6703,
                                      supportcrypto="1")
            self.assertEqual(status, 200, (path, answer))
            self.assertIn(b"external ip", answer, path)
            self.assertEqual(peers_of(answer), [6701, 6702], path)
        written()
        for path in ("/scrape", "/scrape.php"):
            self.assertEqual(scrape(STATE["site_port"], path, info_hash), (1, 2, 0), path)
        status, _, body = raw_get(STATE["site_port"], "/tracker/stats")
        self.assertEqual(status, 200)
        self.assertIn("pid", json.loads(body))

        # Step 9: the PHP tracker's files go; the site's pages stay; the tracker's URLs too.
        site = os.path.join(STATE["dir"], "site")
        for name in ("announce.php", "scrape.php", "cron.php", ".htaccess"):
            os.unlink(os.path.join(site, name))
        shutil.rmtree(os.path.join(site, "backend"))
        self.assertEqual(raw_get(STATE["site_port"], "/index.html")[2], b"the site's own page\n")
        self.assertEqual(raw_get(STATE["site_port"], "/cron.php")[0], 404)
        status, answer = announce(STATE["site_port"], "/announce.php", info_hash, "sw3", 10,
                                  6703, supportcrypto="1")
        self.assertEqual((status, peers_of(answer)), (200, [6701, 6702]))
        self.assertEqual(scrape(STATE["site_port"], "/scrape.php", info_hash), (1, 2, 0))
        # And the PHP's account and its sql_mode line go: nothing of ours used them.
        set_init_connect("")
        sql("DROP USER '%s'@'localhost'" % PHP_USER, database="")
        answer = fcgi_announce(info_hash, "sw4", 0, 6704, "started")
        written()
        self.assertEqual(scrape(STATE["site_port"], "/scrape", info_hash), (2, 2, 0))


def load_tests(loader, tests, pattern):
    """In the order of the move: the switch-over changes the site's nginx, so it runs last."""
    suite = unittest.TestSuite()
    for case in (MigratedWhileLiveTest, SqlModeTest, SideBySideTest, RequireCryptoTest,
                 CronTest, SwitchOverTest):
        suite.addTests(loader.loadTestsFromTestCase(case))
    return suite


if __name__ == "__main__":
    unittest.main()
