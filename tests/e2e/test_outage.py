"""End to end: the database goes away while announces flow.

About 50 announces a second go through nginx to the workers while the test stops the private
MariaDB that tests/run started (deploy/lib/services.sh mariadb_stop), keeps sending for ~5 s,
starts it again (mariadb_start) and keeps sending for ~10 s. While it is down, announces to the
registered torrents are answered from the worker's replica (outageServeSeconds, 30 by default,
is longer than the outage) and their writes wait in the queue; a completion, which is written
before it is answered, gets a quick bencoded "temporarily unavailable". Once it is back the same
worker process writes the queue, its pool has replaced every dead connection, and no announce
that was answered as accepted is missing from `peers`.

Needs TRACKER_TEST_STATE_DIR (and TRACKER_TEST_ROOT), exported by tests/run."""

import json
import os
import signal
import time
import unittest

from robust_helpers import (AnnounceLoad, announce_accepted, announce_target,
                            ensure_mariadb_running, failure_reason, have_stack_control, http_get,
                            lost_keys, mariadb_kill, process_alive, services, stats,
                            worker_connections, worker_log_tail, worker_pid)
from trackerclient import SETTLE_SECONDS, mariadb, register, settle

WARM_UP = 2.0          # seconds of announces before the stop
DOWN = 5.0             # seconds MariaDB stays stopped
AFTER = 10.0           # seconds of announces after it is back
RATE = 50              # announces a second
MAX_LATENCY = 4.0      # no answer may take longer, down or up
RECOVERY = 3.0         # seconds after mariadb_start returns by which announces succeed again
UNAVAILABLE = ("temporarily unavailable", "overloaded")


@unittest.skipUnless(have_stack_control(), "needs TRACKER_TEST_STATE_DIR (run through tests/run)")
class OutageTest(unittest.TestCase):

    def setUp(self):
        ensure_mariadb_running()
        # Whatever happens, the suite goes on with MariaDB running.
        self.addCleanup(ensure_mariadb_running)

    def test_database_stop_and_start_while_announces_flow(self):
        def stop():
            status, output = services("mariadb_stop")
            self.assertEqual(status, 0, "mariadb_stop failed:\n" + output)
        self.outage("outage (mariadb_stop)", stop, DOWN, AFTER)

    def test_database_crash_and_restart_while_announces_flow(self):
        # SIGKILL: no clean shutdown, InnoDB recovers on start. Committed announces survive
        # (innodb_flush_log_at_trx_commit=2 loses nothing on a server crash, only on an OS one).
        self.outage("crash (SIGKILL)", mariadb_kill, 3.0, 6.0)

    def outage(self, label, stop, down, after):
        # One torrent per load thread: new peers of one swarm inserted at once can deadlock
        # and be refused with a healthy database, which is another matter (test_overload's
        # flash crowd) and must not blur this one.
        hashes = [os.urandom(20) for _ in range(8)]
        for n, h in enumerate(hashes):
            register(h, "%s %d" % (label, n))
        pid = worker_pid()
        before = stats()["pool"]

        load = AnnounceLoad(hashes, "o", rate=RATE, threads=len(hashes)).start()
        try:
            time.sleep(WARM_UP)
            stop_began = time.monotonic()
            try:
                stop()
                stopped = time.monotonic()
                time.sleep(min(1.5, down / 2))
                # A completion cannot be answered from memory: refused, and not counted.
                completion = http_get(announce_target(hashes[0], "outage-done", left=0,
                                                      event="completed"))
                time.sleep(max(0.0, down - (time.monotonic() - stopped)))
            finally:
                start_began = time.monotonic()
                status, output = services("mariadb_start")
                started = time.monotonic()
            self.assertEqual(status, 0, "mariadb_start failed:\n" + output)
            time.sleep(after)
        finally:
            records = load.stop()
        during = stats()["pool"]

        def describe(r):
            return "%s sent at %+.2fs, %.2fs: %r" % (r.key, r.sent - stop_began,
                                                     r.done - r.sent, r.answer)

        def listing(rs):
            return "\n".join(describe(r) for r in rs[:20])

        # Every answer, down or up: HTTP 200, bencoded, accepted or a failure reason; quick.
        self.assertGreater(len(records), RATE * (WARM_UP + down + after) * 0.6)
        unclean = [r for r in records if not r.accepted and r.reason is None]
        self.assertEqual(len(unclean), 0, "answers neither accepted nor a failure reason:\n"
                         "%s\n%s" % (listing(unclean), worker_log_tail()))
        slowest = max(records, key=lambda r: r.done - r.sent)
        max_latency = slowest.done - slowest.sent
        gone = [r for r in records if r.sent >= stopped and r.done <= start_began]
        gone_latency = max((r.done - r.sent for r in gone), default=0.0)
        self.assertLess(max_latency, MAX_LATENCY, "slowest: " + describe(slowest))

        # Before the stop: all accepted.
        warm = [r for r in records if r.done < stop_began]
        self.assertTrue(warm)
        self.assertEqual(len([r for r in warm if not r.accepted]), 0,
                         listing([r for r in warm if not r.accepted]))

        # While it is down: every announce is answered from the replica, its write queued
        # (see "lost" below); the completion is refused cleanly.
        self.assertGreater(len(gone), RATE * down * 0.6)
        refused_down = [r for r in gone if not r.accepted]
        self.assertEqual(len(refused_down), 0, "refused while MariaDB was down (within "
                         "outageServeSeconds):\n" + listing(refused_down))
        reason = failure_reason(completion)
        self.assertTrue(reason and any(text in reason for text in UNAVAILABLE), completion)

        # Back up: the same worker process serves again within RECOVERY seconds.
        self.assertTrue(process_alive(pid), "tracker-fcgi (pid %d) died:\n%s"
                        % (pid, worker_log_tail()))
        self.assertEqual(worker_pid(), pid, "tracker-fcgi was restarted")
        late = [r for r in records if r.sent >= started + RECOVERY]
        self.assertGreater(len(late), RATE * (after - RECOVERY) * 0.6)
        refused = [r for r in late if not r.accepted]
        self.assertEqual(len(refused), 0, "refused more than %.0fs after MariaDB was back:\n%s"
                         % (RECOVERY, listing(refused)))
        first_ok = min((r.done for r in records if r.sent >= started and r.accepted),
                       default=None)
        self.assertIsNotNone(first_ok)

        # The pool found its dead connections and dropped them; none is left: a burst of
        # twice the pool size right now is all accepted without dropping any more.
        self.assertGreater(during["dropped"], before["dropped"])
        self.assertGreater(during["connectFailures"], before["connectFailures"])
        self.assertLessEqual(during["open"], during["size"])
        burst_hashes = [os.urandom(20) for _ in range(2 * during["size"])]
        for n, h in enumerate(burst_hashes):
            register(h, "%s burst %d" % (label, n))
        burst = AnnounceLoad(burst_hashes, "b", rate=None, threads=len(burst_hashes)).start()
        time.sleep(1.5)
        burst_records = burst.stop()
        self.assertTrue(burst_records)
        self.assertEqual(len([r for r in burst_records if not r.accepted]), 0,
                         listing([r for r in burst_records if not r.accepted]))
        after_stats = stats()["pool"]
        self.assertEqual(after_stats["dropped"], during["dropped"],
                         "dead connections were still pooled")
        self.assertLessEqual(worker_connections(), after_stats["size"])

        # No accepted announce is lost, those queued while the database was down included.
        settle()
        lost = lost_keys(hashes + burst_hashes, records + burst_records)
        accepted = sum(1 for r in records if r.accepted)
        print("\n%s: MariaDB unavailable %.1fs (stopping took %.1fs, starting %.1fs); %d "
              "announces (%d accepted, %d refused, %d while down, %d of them accepted); max "
              "latency %.3fs overall, "
              "%.3fs while down; first success %.2fs after mariadb_start returned; pool dropped "
              "%d dead connections, %d failed connects; accepted announces lost: %d" % (
                  label, started - stop_began, stopped - stop_began, started - start_began,
                  len(records), accepted, len(records) - accepted, len(gone),
                  sum(1 for r in gone if r.accepted), max_latency,
                  gone_latency, first_ok - started, during["dropped"] - before["dropped"],
                  during["connectFailures"] - before["connectFailures"], len(lost)))
        self.assertEqual(len(lost), 0, "accepted but not in peers: %s" % sorted(lost)[:20])

        downloaded = int(mariadb("SELECT downloaded FROM torrents WHERE infohash = UNHEX('%s')"
                                 % hashes[0].hex()).strip())
        self.assertEqual(downloaded, 0, "the refused completion was counted")

        # And a plain announce works, as a client would see it.
        answer = http_get(announce_target(hashes[0], "final"))
        self.assertIsNotNone(announce_accepted(answer), answer)


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(have_stack_control(), "needs TRACKER_TEST_STATE_DIR (run through tests/run)")
class WorkerStopTest(unittest.TestCase):
    """SIGTERM right after a burst of announces, with nginx holding FastCGI connections open
    between requests (`fastcgi_keep_conn`): the worker process exits within seconds, not at
    the service script's SIGKILL, and writes every announce it answered before it goes."""

    def tearDown(self):
        pid_file = os.path.join(os.environ["TRACKER_TEST_STATE_DIR"], "tracker-fcgi.pid")
        if not os.path.exists(pid_file) or not process_alive(worker_pid()):
            status, output = services("workers_start")
            self.assertEqual(status, 0, output)

    def test_sighup_reloads_the_config_and_never_stops(self):
        info_hash = os.urandom(20)
        register(info_hash, "reloaded")
        path = os.path.join(os.environ["TRACKER_TEST_STATE_DIR"], "tracker.json")
        with open(path) as f:
            original = f.read()
        pid = worker_pid()

        def interval_after_hup(expected):
            os.kill(pid, signal.SIGHUP)
            deadline = time.monotonic() + 5
            while True:
                answer = announce_accepted(http_get(announce_target(info_hash, "hup")))
                if answer is not None and answer[b"interval"] == expected:
                    return answer
                self.assertLess(time.monotonic(), deadline, "interval %r, not %d, after SIGHUP"
                                "\n%s" % (answer and answer[b"interval"], expected,
                                           worker_log_tail(5)))
                time.sleep(0.1)

        try:
            config = json.loads(original)
            config.update({"minInterval": 120, "maxInterval": 600, "workers": 4})
            with open(path, "w") as f:
                json.dump(config, f)
            answer = interval_after_hup(600)
            self.assertEqual(answer[b"min interval"], 120)
            self.assertIn("changed but kept until a restart: workers", worker_log_tail(3))
            # A broken file changes nothing, and stops nothing.
            with open(path, "w") as f:
                f.write("{ not json")
            os.kill(pid, signal.SIGHUP)
            time.sleep(0.5)
            self.assertEqual(
                announce_accepted(http_get(announce_target(info_hash, "hup")))[b"interval"], 600)
            self.assertIn("was not reloaded", worker_log_tail(3))
        finally:
            with open(path, "w") as f:
                f.write(original)
        interval_after_hup(json.loads(original).get("maxInterval", 900))
        self.assertTrue(process_alive(pid))
        self.assertEqual(worker_pid(), pid)

    def test_completions_answered_survive_kill_9_and_count_once(self):
        info_hash = os.urandom(20)
        register(info_hash, "killed after completions")
        keys = ["k9c%d" % n for n in range(40)]
        for key in keys:
            self.assertIsNotNone(announce_accepted(http_get(announce_target(info_hash, key))))
        # The started announces wait in the write-behind; each completion is answered...
        answered = 0
        for key in keys:
            answer = http_get(announce_target(info_hash, key, left=0, event="completed"))
            if announce_accepted(answer) is not None:
                answered += 1
        # ... and the process dies at once, its queue with it.
        pid = worker_pid()
        os.kill(pid, 9)
        deadline = time.monotonic() + 10
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(process_alive(pid))
        self.assertEqual(answered, len(keys))
        status, output = services("workers_start")
        self.assertEqual(status, 0, output)
        # Every client sends its completion again (it may have missed the answer): none counts
        # twice.
        for key in keys[:10]:
            answer = http_get(announce_target(info_hash, key, left=0, event="completed"))
            self.assertIsNotNone(announce_accepted(answer), answer)
        downloaded = int(mariadb("SELECT downloaded FROM torrents WHERE infohash = UNHEX('%s')"
                                 % info_hash.hex()).strip())
        print("\nkill -9 after %d answered completions: downloaded %d after the restart"
              % (answered, downloaded))
        self.assertEqual(downloaded, answered)

    def test_sigterm_after_a_burst_exits_promptly_and_loses_no_accepted_announce(self):
        info_hash = os.urandom(20)
        register(info_hash, "stopped under load")
        load = AnnounceLoad(info_hash, "sigterm", rate=200, threads=8).start()
        time.sleep(2.0)
        # The last announces are still in the write-behind queue; nginx's kept connections
        # are idle (a worker thread waits on each for a request that will not come).
        records = load.stop()
        time.sleep(0.1)
        pid = worker_pid()
        began = time.monotonic()
        status, output = services("workers_stop", timeout=60)
        took = time.monotonic() - began
        self.assertEqual(status, 0, output)
        self.assertNotIn("SIGKILL", output)
        self.assertLess(took, 5.0, "workers_stop took %.1fs:\n%s" % (took, output))
        # The service script sees it go as its memory is torn down; the pid lingers a moment
        # (longer under the sanitizers' exit checks).
        deadline = time.monotonic() + 10
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(process_alive(pid))
        self.assertIn("stopped after", worker_log_tail(5))

        accepted = [r for r in records if r.accepted]
        self.assertGreater(len(accepted), 100)
        self.assertEqual(lost_keys(info_hash, records), set())

        status, output = services("workers_start")
        self.assertEqual(status, 0, output)
        deadline = time.monotonic() + 10
        while True:
            answer = http_get(announce_target(info_hash, "after-restart"))
            if announce_accepted(answer) is not None:
                break
            self.assertLess(time.monotonic(), deadline, "no announce accepted after the restart: "
                            "%r\n%s" % (answer, worker_log_tail()))
            time.sleep(0.2)
