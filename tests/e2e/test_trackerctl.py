"""End to end: the trackerctl admin tool against the test MariaDB, and the announces it governs
through the real nginx -> tracker-fcgi stack that tests/run starts. .torrent files come from real
tools (mktorrent, libtorrent's create_torrent); `migrate` runs on a PHP-schema-only database."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from trackerclient import Tracker, bdecode, caught_up, encode_all, mariadb, settle

TRACKERCTL = os.environ.get("TRACKERCTL", "")
SOCKET = os.environ.get("TRACKER_TEST_DB_SOCKET", "")
DB_NAME = os.environ.get("TRACKER_TEST_DB_NAME", "")
REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MIGRATIONS = sorted(f for f in os.listdir(os.path.join(REPO, "sql", "migrations"))
                    if f.endswith(".sql"))

try:
    import libtorrent as lt
except ImportError:  # reported by the tests that need it, with what to install
    lt = None


def bencode(value) -> bytes:
    """Canonical bencoding, enough to re-encode a well-formed .torrent's info dict."""
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(value[k]) for k in sorted(value)) + b"e"
    raise TypeError(type(value))


def write_config(directory, database=None, socket=None):
    path = os.path.join(directory, "tracker-%s.json" % (database or DB_NAME))
    with open(path, "w") as out:
        json.dump({"database": {"socket": socket or SOCKET, "user": "root", "password": "",
                                "name": database or DB_NAME}}, out)
    return path


def peer_params(info_hash, port, left, key):
    return [("info_hash", info_hash), ("peer_id", os.urandom(20)), ("port", str(port)),
            ("uploaded", "0"), ("downloaded", "0"), ("left", str(left)), ("key", key)]


def mariadb_in(database, sql):
    result = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", SOCKET, "-N", "-B",
                             database, "-e", sql], check=True, capture_output=True)
    return result.stdout.decode()


def schema_dump(database):
    """The schema (tables, indexes, triggers) as mariadb-dump prints it, AUTO_INCREMENT cut."""
    result = subprocess.run(["mariadb-dump", "--no-defaults", "-uroot", "-S", SOCKET, "--no-data",
                             "--skip-comments", "--triggers", database],
                            check=True, capture_output=True)
    return re.sub(r" AUTO_INCREMENT=\d+", "", result.stdout.decode())


def torrent_count():
    return int(mariadb("SELECT COUNT(*) FROM torrents").strip())


class TrackerctlTestCase(unittest.TestCase):
    tracker = Tracker()

    @classmethod
    def setUpClass(cls):
        if not TRACKERCTL or not os.access(TRACKERCTL, os.X_OK):
            raise RuntimeError("TRACKERCTL (the trackerctl binary) is not set: run through "
                               "tests/run, which sets it via ctest")
        cls.dir = tempfile.mkdtemp(prefix="trackerctl-test-")
        cls.config = write_config(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ctl(self, *args, config=None, env=None, expect=0):
        """Runs trackerctl; checks its exit status; returns (stdout, stderr)."""
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("GATEWAY_INTERFACE", "REQUEST_METHOD", "TRACKER_CONFIG")}
        environment.update(env or {})
        command = [TRACKERCTL, "--config", config or self.config] + list(args)
        if config is False:
            command = [TRACKERCTL] + list(args)
        result = subprocess.run(command, capture_output=True, env=environment, timeout=120)
        out, err = result.stdout.decode(), result.stderr.decode()
        self.assertEqual(result.returncode, expect,
                         "trackerctl %s -> %d\nstdout: %s\nstderr: %s"
                         % (" ".join(args), result.returncode, out, err))
        if expect == 0 and config is None:
            caught_up()  # what it changed is what the next announce sees
        return out, err

    def ctl_json(self, *args, expect=0, **kwargs):
        out, _ = self.ctl("--json", *args, expect=expect, **kwargs)
        return json.loads(out)

    def make_files(self, name, sizes):
        root = os.path.join(self.dir, name)
        os.makedirs(root)
        for n, size in enumerate(sizes):
            with open(os.path.join(root, "part%d.bin" % n), "wb") as out:
                out.write(os.urandom(size))
        return root

    def announce_ok(self, info_hash, key, left=100, port=7100):
        answer = self.tracker.announce(peer_params(info_hash, port, left, key))
        self.assertNotIn(b"failure reason", answer)
        return answer


class AddFromRealToolsTest(TrackerctlTestCase):
    def test_mktorrent_file_is_registered_by_its_real_info_hash_and_served(self):
        if shutil.which("mktorrent") is None:
            self.fail("mktorrent is not installed (apt-get install mktorrent)")
        content = self.make_files("mk-content", [300000, 12345])
        path = os.path.join(self.dir, "mk.torrent")
        subprocess.run(["mktorrent", "-a", self.tracker.base() + "/announce", "-l", "16",
                        "-o", path, content], check=True, capture_output=True)
        with open(path, "rb") as f:
            data = f.read()
        # The info hash computed here, independently: SHA-1 of the bencoded info dict.
        expected = hashlib.sha1(bencode(bdecode(data)[b"info"])).hexdigest()
        if lt is not None:
            self.assertEqual(str(lt.torrent_info(path).info_hashes().v1), expected)

        added = self.ctl_json("add", path)
        self.assertTrue(added["ok"])
        self.assertEqual(added["action"], "registered")
        self.assertEqual(added["torrent"]["infoHash"], expected)
        self.assertEqual(added["torrent"]["name"], "mk-content")
        self.assertEqual(added["file"]["totalSize"], 312345)
        self.assertEqual(added["file"]["files"], 2)
        self.assertFalse(added["file"]["hybrid"])
        self.assertEqual(added["file"]["announce"], [self.tracker.base() + "/announce"])
        tid = added["torrent"]["tid"]
        self.assertEqual(mariadb("SELECT LOWER(HEX(infohash)), name FROM torrents WHERE tid = %d"
                                 % tid).strip(), "%s\tmk-content" % expected)

        info_hash = bytes.fromhex(expected)
        self.announce_ok(info_hash, "mk1")
        settle()
        answer = self.announce_ok(info_hash, "mk1")
        self.assertEqual(answer[b"incomplete"], 1)

        out, _ = self.ctl("add", path)
        self.assertIn("already registered: tid %d" % tid, out)
        self.assertIn("(name kept)", out)
        self.assertEqual(int(mariadb("SELECT COUNT(*) FROM torrents WHERE infohash = UNHEX('%s')"
                                     % expected).strip()), 1)

        # Ban: announces fail with #6 once the workers' replicas have followed it (within
        # replicaPullMs; ctl() waits for that).
        out, _ = self.ctl("ban", expected)
        self.assertIn("banned: tid %d" % tid, out)
        answer = self.tracker.announce(peer_params(info_hash, 7100, 100, "mk1"))
        self.assertTrue(answer[b"failure reason"].startswith(b"Tracker error #6"), answer)
        banned = self.ctl_json("show", str(tid))
        self.assertTrue(banned["torrent"]["banned"])

        out, _ = self.ctl("unban", str(tid))
        self.assertIn("unbanned: tid %d" % tid, out)
        self.assertEqual(self.announce_ok(info_hash, "mk1")[b"incomplete"], 1)

    def require_libtorrent(self):
        if lt is None:
            self.fail("python3-libtorrent is not importable by %s (apt-get install "
                      "python3-libtorrent)" % sys.executable)

    def libtorrent_torrent(self, name, flags):
        content = self.make_files(name, [40000, 70000])
        storage = lt.file_storage()
        lt.add_files(storage, content)
        creator = lt.create_torrent(storage, 16384, flags)
        creator.add_tracker(self.tracker.base() + "/announce")
        lt.set_piece_hashes(creator, self.dir)
        path = os.path.join(self.dir, name + ".torrent")
        with open(path, "wb") as out:
            out.write(lt.bencode(creator.generate()))
        return path

    def test_libtorrent_hybrid_torrent_is_registered_by_its_v1_hash(self):
        self.require_libtorrent()
        path = self.libtorrent_torrent("lt-hybrid", 0)  # libtorrent 2: v1 + v2 by default
        hashes = lt.torrent_info(path).info_hashes()
        self.assertTrue(hashes.has_v1() and hashes.has_v2(), "not a hybrid torrent")
        expected = str(hashes.v1)

        added = self.ctl_json("add", path, "--name", "hybrid by libtorrent")
        self.assertEqual(added["torrent"]["infoHash"], expected)
        self.assertEqual(added["torrent"]["name"], "hybrid by libtorrent")
        self.assertTrue(added["file"]["hybrid"])
        self.assertEqual(added["file"]["v2InfoHash"], str(hashes.v2))
        self.assertIn("v1", added["note"])
        self.announce_ok(bytes.fromhex(expected), "lt1")

        out, _ = self.ctl("add", path)
        self.assertIn("hybrid v1+v2 torrent: registered by its v1 (SHA-1) info hash", out)

    def test_libtorrent_v1_only_torrent(self):
        self.require_libtorrent()
        path = self.libtorrent_torrent("lt-v1", lt.create_torrent.v1_only)
        expected = str(lt.torrent_info(path).info_hashes().v1)
        added = self.ctl_json("add", path)
        self.assertEqual(added["torrent"]["infoHash"], expected)
        self.assertEqual(added["torrent"]["name"], "lt-v1")
        self.assertFalse(added["file"]["hybrid"])
        self.assertEqual(added["file"]["totalSize"], 110000)
        self.announce_ok(bytes.fromhex(expected), "lt2")

    def test_libtorrent_pure_v2_torrent_is_refused_and_adds_nothing(self):
        self.require_libtorrent()
        path = self.libtorrent_torrent("lt-v2", lt.create_torrent.v2_only)
        before = torrent_count()
        _, err = self.ctl("add", path, expect=1)
        self.assertIn("pure BitTorrent v2", err)
        self.assertIn("v1 and hybrid", err)
        self.assertEqual(torrent_count(), before)


class BadInputTest(TrackerctlTestCase):
    def test_bad_torrent_files_exit_1_and_add_no_row(self):
        if shutil.which("mktorrent") is None:
            self.fail("mktorrent is not installed (apt-get install mktorrent)")
        content = self.make_files("bad-content", [50000])
        good = os.path.join(self.dir, "good.torrent")
        subprocess.run(["mktorrent", "-a", "http://x/announce", "-o", good, content], check=True,
                       capture_output=True)
        with open(good, "rb") as f:
            data = f.read()
        cases = {
            "truncated.torrent": (data[: len(data) // 2], "truncated"),
            "html.torrent": (b"<html>Not Found</html>", "not a bencoded"),
            "noinfo.torrent": (b"d8:announce10:http://x/ae", "no `info` dictionary"),
            "empty.torrent": (b"", "empty file"),
        }
        before = torrent_count()
        for name, (payload, message) in cases.items():
            path = os.path.join(self.dir, name)
            with open(path, "wb") as out:
                out.write(payload)
            _, err = self.ctl("add", path, expect=1)
            self.assertIn(message, err, name)
            self.assertIn("nothing registered", err, name)
            failed = self.ctl_json("add", path, expect=1)
            self.assertFalse(failed["ok"])
            self.assertIn(message, failed["error"])
        _, err = self.ctl("add", os.path.join(self.dir, "missing.torrent"), expect=1)
        self.assertIn("cannot open", err)
        self.assertEqual(torrent_count(), before)

    def test_usage_errors_exit_2(self):
        self.ctl("add", "ab" * 20, expect=2)  # a hash needs --name
        self.ctl("ban", "not-a-hash", expect=2)
        self.ctl("show", expect=2)
        self.ctl("frobnicate", expect=2)
        self.ctl("list", "--limit", "many", expect=2)
        self.ctl("stats", "--banned", expect=2)
        self.ctl("--bogus", "stats", expect=2)
        self.ctl(expect=2)

    def test_unknown_torrents_and_unreachable_database_exit_1(self):
        _, err = self.ctl("show", os.urandom(20).hex(), expect=1)
        self.assertIn("no torrent", err)
        _, err = self.ctl("ban", "4000000000", expect=1)
        self.assertIn("no torrent with id 4000000000", err)
        unreachable = write_config(self.dir, database="nowhere", socket="/nonexistent/my.sock")
        _, err = self.ctl("stats", config=unreachable, expect=1)
        self.assertIn("cannot connect to the database", err)
        self.assertIn("/nonexistent/my.sock", err)
        failed = self.ctl_json("stats", config=unreachable, expect=1)
        self.assertFalse(failed["ok"])
        _, err = self.ctl("stats", config=os.path.join(self.dir, "absent.json"), expect=2)
        self.assertIn("absent.json", err)

    def test_web_requests_are_refused(self):
        info_hash = os.urandom(20).hex()
        for env in ({"GATEWAY_INTERFACE": "CGI/1.1"}, {"REQUEST_METHOD": "GET"}):
            out, err = self.ctl("add", info_hash, "--name", "from the web", env=env, expect=2)
            self.assertEqual(out, "")
            self.assertIn("refusing to run as a web (CGI) request", err)
            self.ctl("--help", env=env, expect=2)
        self.assertEqual(mariadb("SELECT COUNT(*) FROM torrents WHERE infohash = UNHEX('%s')"
                                 % info_hash).strip(), "0")

    def test_help_for_the_tool_and_each_command(self):
        out, _ = self.ctl("--help")
        for command in ("add", "ban", "unban", "remove", "list", "show", "stats", "migrate"):
            self.assertIn("  " + command, out)
            sub, _ = self.ctl(command, "--help")
            self.assertTrue(sub.startswith("usage: trackerctl " + command), sub)
            again, _ = self.ctl("help", command)
            self.assertEqual(again, sub)


class ManageTest(TrackerctlTestCase):
    def test_hex_add_list_show_stats_remove_with_json(self):
        prefix = "ctl-%s-" % os.urandom(4).hex()
        hashes = [os.urandom(20) for _ in range(3)]
        tids = []
        for n, info_hash in enumerate(hashes):
            added = self.ctl_json("add", info_hash.hex().upper(), "--name", prefix + str(n))
            self.assertEqual(added["action"], "registered")
            self.assertEqual(added["torrent"]["infoHash"], info_hash.hex())
            tids.append(added["torrent"]["tid"])
        renamed = self.ctl_json("add", hashes[0].hex(), "--name", prefix + "renamed")
        self.assertEqual(renamed["action"], "already registered")
        self.assertTrue(renamed["nameChanged"])
        self.assertEqual(renamed["torrent"]["tid"], tids[0])

        self.announce_ok(hashes[1], "s1", left=0, port=7201)
        self.announce_ok(hashes[1], "s2", left=10, port=7202)
        self.announce_ok(hashes[1], "s3", left=10, port=7203)
        self.ctl("ban", hashes[2].hex())
        settle()  # the announces are written

        listed = self.ctl_json("list", "--name", prefix)
        self.assertEqual(listed["total"], 3)
        self.assertEqual([t["tid"] for t in listed["torrents"]], tids)
        self.assertEqual([(t["seeders"], t["leechers"], t["banned"]) for t in listed["torrents"]],
                         [(0, 0, False), (1, 2, False), (0, 0, True)])
        paged = self.ctl_json("list", "--name", prefix, "--limit", "1", "--offset", "1")
        self.assertEqual((paged["total"], [t["tid"] for t in paged["torrents"]]), (3, [tids[1]]))
        self.assertEqual([t["tid"] for t in self.ctl_json("list", "--name", prefix,
                                                          "--active")["torrents"]], [tids[1]])
        self.assertEqual([t["tid"] for t in self.ctl_json("list", "--banned", "--name=" +
                                                          prefix)["torrents"]], [tids[2]])
        out, _ = self.ctl("list", "--name", prefix)
        self.assertIn("3 of 3 matching torrents shown", out)
        self.assertRegex(out, r"\n\s*%d\s+%s\s+1\s+2\s+0\s+%s1\n"
                         % (tids[1], hashes[1].hex(), re.escape(prefix)))

        shown = self.ctl_json("show", hashes[1].hex())["torrent"]
        self.assertEqual((shown["tid"], shown["name"], shown["seeders"], shown["leechers"],
                          shown["completed"]), (tids[1], prefix + "1", 1, 2, 0))
        self.assertRegex(shown["added"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        out, _ = self.ctl("show", str(tids[1]))
        self.assertIn("seeders:    1\n", out)
        self.assertIn("leechers:   2\n", out)

        stats = self.ctl_json("stats")
        counted = mariadb("SELECT (SELECT COUNT(*) FROM torrents), (SELECT COUNT(*) FROM peers), "
                          "(SELECT COUNT(*) FROM peers WHERE residual = 0), "
                          "(SELECT COUNT(*) FROM peers WHERE residual > 0), "
                          "(SELECT COUNT(*) FROM torrents WHERE banned = 1), "
                          "(SELECT COALESCE(SUM(downloaded), 0) FROM torrents)").split()
        self.assertEqual([stats[k] for k in ("torrents", "peers", "seeders", "leechers", "banned",
                                             "completions")], [int(c) for c in counted])
        out, _ = self.ctl("stats")
        self.assertIn("torrents:     %s (" % counted[0], out)

        removed = self.ctl_json("remove", str(tids[1]))
        self.assertEqual(removed["removed"]["tid"], tids[1])
        self.assertEqual(mariadb("SELECT COUNT(*) FROM peers WHERE tid = %d" % tids[1]).strip(),
                         "0")
        settle()
        answer = self.tracker.announce(peer_params(hashes[1], 7201, 0, "s1"))
        self.assertTrue(answer[b"failure reason"].startswith(b"Tracker error #5"), answer)
        self.ctl("remove", str(tids[1]), expect=1)

    def test_config_from_the_environment(self):
        out, _ = self.ctl("stats", config=False, env={"TRACKER_CONFIG": self.config})
        self.assertIn("torrents:", out)


class MigrateTest(TrackerctlTestCase):
    def test_tracker_fcgi_refuses_a_database_without_our_migrations(self):
        config = self.fresh_database("php_only")
        with open(os.path.join(REPO, "sql", "schema.sql"), "rb") as schema:
            subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", SOCKET, "php_only"],
                           stdin=schema, check=True, capture_output=True)
        fcgi = os.environ["TRACKER_FCGI"]
        refused = subprocess.run([fcgi, "--config", config, "--check"], capture_output=True,
                                 timeout=60)
        self.assertEqual(refused.returncode, 1, refused)
        self.assertIn(b"trackerctl --config %s migrate" % config.encode(), refused.stderr)
        self.ctl("migrate", config=config)
        accepted = subprocess.run([fcgi, "--config", config, "--check"], capture_output=True,
                                  timeout=60)
        self.assertEqual(accepted.returncode, 0, accepted)
        self.assertIn(b"config and database OK", accepted.stdout)

    def fresh_database(self, name):
        mariadb("DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s`" % (name, name))
        self.addCleanup(mariadb, "DROP DATABASE IF EXISTS `%s`" % name)
        return write_config(self.dir, database=name)

    def test_migrate_twice_on_a_php_schema_database(self):
        config = self.fresh_database("php_copy")
        with open(os.path.join(REPO, "sql", "schema.sql"), "rb") as schema:
            subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", SOCKET, "php_copy"],
                           stdin=schema, check=True, capture_output=True)
        # A PHP tracker's rows: one torrent, a seeder and a leecher, before any migration.
        mariadb_in("php_copy", "INSERT INTO torrents (infohash, name) VALUES (UNHEX('%s'), 'old');"
                   "INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES "
                   "(1, 'k1', '-AZ2060-abcdefghijkl', '10.0.0.1', 6881, 0), "
                   "(1, 'k2', '-AZ2060-bcdefghijklm', '10.0.0.2', 6882, 500)" % ("ab" * 20))
        php_only = schema_dump("php_copy")

        first = self.ctl_json("migrate", config=config)
        self.assertTrue(first["ok"], first)
        self.assertEqual(first["appliedNow"], MIGRATIONS)
        self.assertEqual(first["alreadyApplied"], [])
        self.assertEqual(first["checked"], ["schema.sql"])
        self.assertEqual(first["createdTables"], ["tracker_departures", "tracker_schema",
                                                 "tracker_sequence", "tracker_swarms",
                                                 "tracker_torrent_feed"])
        once = schema_dump("php_copy")
        self.assertNotEqual(once, php_only)
        self.assertIn("`seeders`", once)
        self.assertIn("peers_count_insert", once)
        self.assertEqual(mariadb_in("php_copy",
                                    "SELECT seeders, leechers FROM tracker_swarms").split(),
                         ["1", "1"])
        recorded = mariadb_in("php_copy", "SELECT version, name, applied FROM tracker_schema")

        out, _ = self.ctl("migrate", config=config)
        self.assertIn("already applied: " + ", ".join(MIGRATIONS), out)
        self.assertNotIn("applied now", out)
        self.assertIn("nothing new to apply", out)
        self.assertEqual(schema_dump("php_copy"), once)
        self.assertEqual(mariadb_in("php_copy", "SELECT version, name, applied FROM tracker_schema"),
                         recorded)
        second = self.ctl_json("migrate", config=config)
        self.assertEqual((second["appliedNow"], second["alreadyApplied"]), ([], MIGRATIONS))
        self.assertEqual(schema_dump("php_copy"), once)

    def test_dry_run_says_what_it_would_do_and_changes_nothing(self):
        config = self.fresh_database("php_dry")
        with open(os.path.join(REPO, "sql", "schema.sql"), "rb") as schema:
            subprocess.run(["mariadb", "--no-defaults", "-uroot", "-S", SOCKET, "php_dry"],
                           stdin=schema, check=True, capture_output=True)
        before = schema_dump("php_dry")
        out, _ = self.ctl("migrate", "--dry-run", config=config)
        self.assertIn("dry run, nothing is changed", out)
        self.assertIn("would apply: " + ", ".join(MIGRATIONS), out)
        self.assertIn("002_binary_peer_identity.sql\n  line ", out)
        self.assertIn("peers (about 0 rows): small: altered in place", out)
        self.assertIn("an index built online", out)
        self.assertIn("row locks on one batch of 5000 peers rows at a time", out)
        self.assertIn("privileges needed on php_dry: ALTER, CREATE, DELETE, DROP, INDEX, INSERT, "
                      "REFERENCES, SELECT, TRIGGER, UPDATE", out)
        self.assertIn("this account has them", out)
        self.assertEqual(schema_dump("php_dry"), before)

        plan = self.ctl_json("migrate", "--dry-run", config=config)
        self.assertTrue(plan["ok"] and plan["dryRun"], plan)
        self.assertEqual((plan["checked"], plan["pending"]), (["schema.sql"], MIGRATIONS))
        self.assertFalse(any("BLOCKS" in step["effect"] for step in plan["steps"]), plan)
        self.assertEqual(schema_dump("php_dry"), before)

        self.ctl("migrate", config=config)
        out, _ = self.ctl("migrate", "--dry-run", config=config)
        self.assertIn("nothing to apply: the database is up to date", out)
        _, err = self.ctl("migrate", "--definer", "no good", config=config, expect=2)
        self.assertIn("--definer takes an account as user@host", err)
        _, err = self.ctl("list", "--dry-run", config=config, expect=2)
        self.assertIn("--dry-run and --definer belong to `migrate`", err)

    def test_migrate_an_empty_database_creates_everything(self):
        config = self.fresh_database("ctl_empty")
        report = self.ctl_json("migrate", config=config)
        self.assertEqual(report["createdTables"], ["peers", "torrents", "tracker_departures",
                                                  "tracker_schema", "tracker_sequence",
                                                  "tracker_swarms", "tracker_torrent_feed"])
        self.assertEqual(report["appliedNow"], MIGRATIONS)
        # The result has the same schema as the one tests/run made with the mariadb client.
        self.assertEqual(schema_dump("ctl_empty"), schema_dump(DB_NAME))

    def test_migrate_on_the_served_database_applies_nothing(self):
        report = self.ctl_json("migrate")
        self.assertTrue(report["ok"])
        self.assertEqual(report["appliedNow"], [])
        self.assertEqual(report["alreadyApplied"], MIGRATIONS)


class GrantsTest(TrackerctlTestCase):
    """`trackerctl grants` on a database of its own: the migrating account migrates it with
    what it says, moves the triggers to the serving account (--definer) and is dropped, and the
    serving account, with the table grants and nothing else, registers, serves announces
    through tracker-fcgi, completes, cleans up and removes."""

    DB = "tracker_grants"

    def setUp(self):
        self.addCleanup(self.drop)
        self.drop()
        mariadb_in(DB_NAME, "CREATE DATABASE %s; "
                   "CREATE USER 'grants_run'@'localhost' IDENTIFIED BY 'run-pw'; "
                   "CREATE USER 'grants_mig'@'localhost' IDENTIFIED BY 'mig-pw';" % self.DB)
        self.run_config = os.path.join(self.dir, "grants-run.json")
        self.mig_config = os.path.join(self.dir, "grants-mig.json")
        self.sock = os.path.join(self.dir, "grants.sock")
        for path, user, password in [(self.run_config, "grants_run", "run-pw"),
                                     (self.mig_config, "grants_mig", "mig-pw")]:
            with open(path, "w") as out:
                json.dump({"database": {"socket": SOCKET, "user": user, "password": password,
                                        "name": self.DB}, "listen": self.sock}, out)

    def drop(self):
        mariadb_in(DB_NAME, "DROP DATABASE IF EXISTS %s; DROP USER IF EXISTS "
                   "'grants_run'@'localhost', 'grants_mig'@'localhost';" % self.DB)

    def trigger_definers(self):
        return set(mariadb_in(self.DB, "SELECT DISTINCT DEFINER FROM information_schema.TRIGGERS "
                              "WHERE TRIGGER_SCHEMA = DATABASE()").split())

    def fcgi(self, query):
        env = dict(os.environ, REQUEST_METHOD="GET", SCRIPT_NAME="/announce",
                   QUERY_STRING=query, REMOTE_ADDR="127.0.0.1")
        result = subprocess.run(["cgi-fcgi", "-bind", "-connect", self.sock], env=env,
                                capture_output=True, timeout=30)
        return result.stdout.split(b"\r\n\r\n", 1)[-1]

    def test_the_printed_grants_are_enough_to_migrate_and_to_serve(self):
        out, _ = self.ctl("grants", "grants_mig", config=self.run_config)
        statements = [line for line in out.splitlines() if line.startswith("GRANT ")]
        migrating = [g for g in statements if "'grants_mig'@'localhost'" in g]
        serving = [g for g in statements if "'grants_run'@'localhost'" in g]
        self.assertEqual(len(migrating), 2, out)
        self.assertGreaterEqual(len(serving), 7, out)
        self.assertFalse(any(".* TO 'grants_run'" in g for g in serving), out)
        self.assertLess(statements.index(migrating[-1]), statements.index(serving[0]), out)
        self.assertIn("--definer 'grants_run'@'localhost'", out)

        # With less than its grants the dry run names what the migrating account lacks.
        mariadb_in(DB_NAME, "GRANT SELECT ON %s.* TO 'grants_mig'@'localhost'" % self.DB)
        lacking = self.ctl_json("migrate", "--dry-run", config=self.mig_config)
        self.assertTrue(lacking["ok"], lacking)
        self.assertIn("TRIGGER", lacking["privilegesMissing"])
        mariadb_in(DB_NAME, " ".join(migrating))
        planned = self.ctl_json("migrate", "--dry-run", config=self.mig_config)
        self.assertEqual(planned["privilegesMissing"], [], planned)
        self.assertEqual(planned["account"], "grants_mig@localhost")

        # Migrated as itself first (as a site did before --definer), then the triggers moved
        # to the serving account, so that the migrating one can be dropped.
        self.ctl("migrate", config=self.mig_config)
        self.assertEqual(self.trigger_definers(), {"grants_mig@localhost"})
        # Not before the serving account holds what its triggers write: they come back.
        _, err = self.ctl("migrate", "--definer", "grants_run@localhost", config=self.mig_config,
                          expect=1)
        self.assertIn("the triggers cannot run as 'grants_run'@'localhost'", err)
        self.assertEqual(self.trigger_definers(), {"grants_mig@localhost"})
        self.assertEqual(mariadb_in(self.DB, "SELECT COUNT(*) FROM torrents").strip(), "0")
        mariadb_in(DB_NAME, " ".join(serving))
        out, _ = self.ctl("migrate", "--definer", "grants_run@localhost", config=self.mig_config)
        self.assertIn("triggers now run as 'grants_run'@'localhost'", out)
        self.assertEqual(self.trigger_definers(), {"grants_run@localhost"})
        mariadb_in(DB_NAME, "DROP USER 'grants_mig'@'localhost'")

        info_hash = os.urandom(20)
        self.ctl("add", info_hash.hex(), "--name", "granted", config=self.run_config)
        self.ctl("ban", info_hash.hex(), config=self.run_config)
        self.ctl("unban", info_hash.hex(), config=self.run_config)
        self.ctl("list", config=self.run_config)
        self.ctl("stats", config=self.run_config)

        worker = subprocess.Popen([os.environ["TRACKER_FCGI"], "--config", self.run_config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            query = "info_hash=%s&peer_id=%s&port=7300&uploaded=0&downloaded=0&key=g1&left=" % (
                encode_all(info_hash), encode_all(b"-GR0001-" + b"x" * 12))
            while True:
                answer = self.fcgi(query + "100&event=started") if os.path.exists(
                    self.sock) else b""
                if b"interval" in answer:
                    break
                self.assertLess(time.monotonic(), deadline, answer)
                time.sleep(0.2)
            answer = self.fcgi(query + "0&event=completed")
            self.assertIn(b"interval", answer)
        finally:
            worker.terminate()
            _, err = worker.communicate(timeout=30)
        self.assertEqual(worker.returncode, 0, err.decode())
        rows = mariadb_in(self.DB, "SELECT t.downloaded, COUNT(p.pid) FROM torrents t LEFT JOIN "
                          "peers p USING (tid) GROUP BY t.tid").split()
        self.assertEqual(rows, ["1", "1"])

        # The cleanup, as the serving account: the expired peer goes, its departure recorded.
        mariadb_in(self.DB, "UPDATE peers SET updated = NOW() - INTERVAL 1 DAY")
        result = subprocess.run([os.environ["TRACKER_CRON"], "--config", self.run_config],
                                capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertIn("removed 1 peer", result.stdout.decode())
        self.ctl("remove", info_hash.hex(), config=self.run_config)
        self.assertEqual(mariadb_in(self.DB, "SELECT COUNT(*) FROM torrents").strip(), "0")


if __name__ == "__main__":
    unittest.main()
