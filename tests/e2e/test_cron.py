"""End to end: the tracker-cron binary on the test database that tests/run starts (its path in
TRACKER_CRON): the summary line, exit codes, one run at a time, and no running as a CGI."""

import json
import os
import re
import subprocess
import tempfile
import time
import unittest

from trackerclient import mariadb, register

CRON = os.environ.get("TRACKER_CRON", "")
DB_NAME = os.environ.get("TRACKER_TEST_DB_NAME", "")
LOCK = "tracker-cron:" + DB_NAME
SUMMARY = re.compile(r"^tracker-cron: removed (\d+) peers? and (\d+) torrents? in \d+\.\d\d s\n$")


def write_config(**overrides):
    """A config file for the test database; returns its path."""
    config = {
        "minInterval": 300,
        "maxInterval": 900,
        "database": {"socket": os.environ["TRACKER_TEST_DB_SOCKET"], "user": "root",
                     "password": "", "name": DB_NAME},
    }
    config.update(overrides)
    handle, path = tempfile.mkstemp(prefix="tracker-cron-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(config, out)
    return path


def run_cron(*args, env=None, config=None):
    environment = dict(os.environ)
    for cgi in ("GATEWAY_INTERFACE", "REQUEST_METHOD"):
        environment.pop(cgi, None)
    environment.update(env or {})
    command = [CRON] + (["--config", config] if config else []) + list(args)
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)


def start_cron(config, *args):
    return subprocess.Popen([CRON, "--config", config] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def new_torrent(name):
    info_hash = os.urandom(20)
    register(info_hash, name)
    return int(mariadb("SELECT tid FROM torrents WHERE infohash = UNHEX('%s')" % info_hash.hex()))


def add_peers(tid, count, age_seconds, prefix):
    """`count` peers of torrent `tid` last heard from `age_seconds` ago (uids prefix + n)."""
    mariadb("INSERT INTO peers (tid, uid, peerId, ip, port, residual, added, updated) "
            "SELECT %d, CONCAT('%s', seq), LPAD(seq, 20, 'p'), '10.7.0.1', 6881, seq %% 2, "
            "NOW() - INTERVAL %d SECOND, NOW() - INTERVAL %d SECOND FROM seq_1_to_%d"
            % (tid, prefix, age_seconds, age_seconds, count))


def peer_count(tid):
    return int(mariadb("SELECT COUNT(*) FROM peers WHERE tid = %d" % tid))


def torrent_exists(tid):
    return int(mariadb("SELECT COUNT(*) FROM torrents WHERE tid = %d" % tid)) == 1


@unittest.skipUnless(CRON, "TRACKER_CRON (the tracker-cron binary) is not set")
class CronTest(unittest.TestCase):
    def setUp(self):
        self.config = write_config()
        # Start from a clean slate: what other tests left that is already due goes now.
        first = run_cron(config=self.config)
        self.assertEqual(first.returncode, 0, first.stderr)

    def tearDown(self):
        os.unlink(self.config)

    def test_prints_one_summary_line_and_removes_the_expired(self):
        swarm = new_torrent("cron swarm")
        add_peers(swarm, 3, 1300, "old")
        add_peers(swarm, 2, 10, "new")
        dead = new_torrent("cron dead")
        # Registered 8 days ago and never announced since.
        mariadb("UPDATE torrents SET added = NOW() - INTERVAL 8 DAY, "
                "updated = NOW() - INTERVAL 8 DAY WHERE tid = %d; "
                "UPDATE tracker_swarms SET empty_since = NOW() - INTERVAL 8 DAY WHERE tid = %d"
                % (dead, dead))

        result = run_cron(config=self.config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        self.assertRegex(result.stdout, SUMMARY)
        self.assertEqual(SUMMARY.match(result.stdout).groups(), ("3", "1"))
        self.assertTrue(result.stdout.startswith("tracker-cron: removed 3 peers and 1 torrent in"))
        self.assertEqual(peer_count(swarm), 2)
        self.assertFalse(torrent_exists(dead))
        self.assertTrue(torrent_exists(swarm))

    def test_reads_the_config_named_by_TRACKER_CONFIG(self):
        swarm = new_torrent("cron env config")
        add_peers(swarm, 1, 5000, "old")
        result = run_cron(env={"TRACKER_CONFIG": self.config})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(SUMMARY.match(result.stdout).groups(), ("1", "0"))
        self.assertEqual(peer_count(swarm), 0)

    def test_dry_run_says_what_it_would_remove_and_removes_nothing(self):
        swarm = new_torrent("cron dry")
        add_peers(swarm, 2, 1300, "old")
        result = run_cron("--dry-run", config=self.config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout,
                         r"^tracker-cron: would remove 2 peers and 0 torrents in \d+\.\d\d s "
                         r"\(dry run\)\n$")
        self.assertEqual(peer_count(swarm), 2)

    def test_two_at_once_only_one_does_the_work(self):
        swarm = new_torrent("cron race")
        add_peers(swarm, 2000, 1300, "old")
        # One peer per DELETE: the first run holds the lock for a while.
        config = write_config(cleanupBatchSize=1)
        try:
            runs = [start_cron(config), start_cron(config)]
            outputs = [run.communicate(timeout=120) for run in runs]
        finally:
            os.unlink(config)
        self.assertEqual([run.returncode for run in runs], [0, 0], outputs)
        stdouts = sorted(out for out, _ in outputs)
        self.assertRegex(stdouts[0], r"^tracker-cron: another tracker-cron is running on this "
                                     r"database \(database connection \d+\); nothing done\n$")
        self.assertRegex(stdouts[1], SUMMARY)
        self.assertEqual(SUMMARY.match(stdouts[1]).groups(), ("2000", "0"))
        self.assertEqual(peer_count(swarm), 0)

    def test_while_another_holds_the_lock_it_exits_or_waits(self):
        swarm = new_torrent("cron wait")
        add_peers(swarm, 4, 1300, "old")
        holder = subprocess.Popen(
            ["mariadb", "--no-defaults", "-uroot", "-S", os.environ["TRACKER_TEST_DB_SOCKET"],
             "-N", "-B", DB_NAME, "-e", "SELECT GET_LOCK('%s', 0); SELECT SLEEP(3);" % LOCK],
            stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while mariadb("SELECT IS_USED_LOCK('%s')" % LOCK).strip() == "NULL":
                self.assertLess(time.monotonic(), deadline, "the holder never took the lock")
                time.sleep(0.05)

            refused = run_cron(config=self.config)
            self.assertEqual(refused.returncode, 0, refused.stderr)
            self.assertIn("another tracker-cron is running", refused.stdout)
            self.assertEqual(len(refused.stdout.splitlines()), 1)
            self.assertEqual(peer_count(swarm), 4)

            started = time.monotonic()
            waited = run_cron("--wait", "30", config=self.config)
            self.assertEqual(waited.returncode, 0, waited.stderr)
            self.assertEqual(SUMMARY.match(waited.stdout).groups(), ("4", "0"))
            self.assertGreater(time.monotonic() - started, 0.5)
            self.assertEqual(peer_count(swarm), 0)
        finally:
            holder.wait(timeout=30)

    def test_unreachable_database_exits_1_naming_the_socket(self):
        config = write_config(database={"socket": "/nonexistent/tracker/mysql.sock",
                                        "user": "root", "name": DB_NAME})
        try:
            result = run_cron(config=config)
        finally:
            os.unlink(config)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertIn("cannot connect to the database through unix socket "
                      "/nonexistent/tracker/mysql.sock", result.stderr)

    def test_refuses_to_run_as_a_cgi_request(self):
        swarm = new_torrent("cron cgi")
        add_peers(swarm, 1, 5000, "old")
        for variable, value in (("GATEWAY_INTERFACE", "CGI/1.1"), ("REQUEST_METHOD", "GET")):
            result = run_cron(env={variable: value}, config=self.config)
            self.assertEqual(result.returncode, 2, variable)
            self.assertEqual(result.stdout, "")
            self.assertIn("refusing to run as a CGI", result.stderr)
        self.assertEqual(peer_count(swarm), 1)

    def test_usage_errors_exit_2(self):
        for args in (["--bogus"], ["--wait", "soon"], ["--wait"], ["--config"]):
            result = run_cron(*args, config=self.config if args != ["--config"] else None)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("usage: tracker-cron", result.stderr)
        missing = run_cron(config="/nonexistent/tracker.json")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("/nonexistent/tracker.json", missing.stderr)
        helped = run_cron("--help")
        self.assertEqual(helped.returncode, 0)
        self.assertIn("usage: tracker-cron", helped.stdout)


if __name__ == "__main__":
    unittest.main()
