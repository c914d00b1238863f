"""The Debian package, built by deploy/package: lintian finds no error; its files, conffiles,
units and cron.d line are what the README says; and what it installs runs. The .deb is
unpacked into a scratch root (never installed on this machine), and its binaries are run from
there with its config (only the database section pointed at the test's MariaDB, in a database
of this test's own) and its nginx snippet inside one site server block that also serves a
page. tracker-fcgi is started as the socket unit starts it: the listening socket on fd 0 and
NOTIFY_SOCKET naming a datagram socket this test reads, so readiness, reload, watchdog and
stop are checked as systemd would see them, and so is a restart on the same socket."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from trackerclient import Tracker

ROOT = os.environ.get("TRACKER_TEST_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
STATE = os.environ["TRACKER_TEST_STATE_DIR"]
# A database of this test's own: the others' torrents and peers stay out of its counts.
DB_NAME = os.environ["TRACKER_TEST_DB_NAME"] + "_package"
# Beside the suite's nginx, away from the ports the other tests pick.
PORT = int(os.environ["TRACKER_TEST_HTTP_PORT"]) + 300
UNITS = "lib/systemd/system"


def run(args, timeout=60, **kwargs):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kwargs)


def mariadb_root(sql):
    result = run(["mariadb", "--no-defaults", "-uroot", "-S", os.environ["TRACKER_TEST_DB_SOCKET"],
                  "-N", "-B", "-e", sql])
    if result.returncode != 0:
        raise AssertionError("mariadb: %s" % result.stderr.decode("utf-8", "replace"))
    return result.stdout.decode()


def unit_keys(path):
    """{section: {key: [values]}} of a systemd unit file."""
    keys, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = keys.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            section.setdefault(key, []).append(value)
    return keys


class Notifications:
    """What the process sends to NOTIFY_SOCKET, as systemd would receive it: one datagram of
    newline-separated assignments at a time, kept with the moment it arrived."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, set of assignments)
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.messages.append((time.monotonic(), set(data.decode().split("\n"))))
                self.cond.notify_all()

    def wait_for(self, assignment, after=0.0, timeout=20.0):
        """The time of the first message holding `assignment` that arrived after `after`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, message in self.messages:
                    if at > after and assignment in message:
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %.0f s; received %r" %
                                         (assignment, timeout, self.messages))
                self.cond.wait(left)

    def count(self, assignment, since):
        with self.cond:
            return sum(1 for at, m in self.messages if at > since and assignment in m)

    def close(self):
        self.closed = True
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)


class PackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="package-", dir=STATE)
        out = os.path.join(cls.dir, "dist")
        built = run([os.path.join(ROOT, "deploy", "package"), "--out", out], timeout=900)
        if built.returncode != 0:
            raise AssertionError("deploy/package failed:\n%s" %
                                 built.stderr.decode("utf-8", "replace")[-6000:])
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        assert len(debs) == 1, "deploy/package made %r" % debs
        cls.deb = os.path.join(out, debs[0])
        cls.root = os.path.join(cls.dir, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        subprocess.run(["dpkg-deb", "-e", cls.deb, os.path.join(cls.root, "DEBIAN")], check=True)
        cls.config = cls.write_config(DB_NAME)
        mariadb_root("DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s`" % (DB_NAME, DB_NAME))
        migrated = run(cls.installed("usr/bin/trackerctl") + ["--config", cls.config, "migrate"])
        if migrated.returncode != 0:
            raise AssertionError("installed trackerctl migrate: %s" %
                                 migrated.stderr.decode("utf-8", "replace"))

    @classmethod
    def tearDownClass(cls):
        mariadb_root("DROP DATABASE IF EXISTS `%s`" % DB_NAME)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def installed(cls, path):
        return [os.path.join(cls.root, path)]

    @classmethod
    def write_config(cls, db_name):
        """The installed config with only its database section changed."""
        with open(os.path.join(cls.root, "etc/tracker/tracker.json")) as f:
            config = json.load(f)
        config["database"].update({"socket": os.environ["TRACKER_TEST_DB_SOCKET"],
                                   "user": "root", "password": "", "name": db_name})
        path = os.path.join(cls.dir, "tracker-%s.json" % db_name)
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    # ---------------------------------------------------------------- the .deb itself --

    def test_lintian_finds_no_error(self):
        result = run(["lintian", "--fail-on", "error", self.deb], timeout=300)
        output = result.stdout.decode("utf-8", "replace")
        self.assertEqual(result.returncode, 0, output)
        errors = [line for line in output.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [])

    def test_the_files_are_where_the_readme_says(self):
        for binary in ["tracker-fcgi", "tracker-cron", "trackerctl"]:
            path = os.path.join(self.root, "usr/bin", binary)
            self.assertTrue(os.access(path, os.X_OK), path)
            page = os.path.join(self.root, "usr/share/man/man1", binary + ".1.gz")
            self.assertTrue(os.path.isfile(page), page)
            rendered = run(["man", "-l", page]).stdout.decode()
            self.assertIn(binary, rendered)
            self.assertIn("--config", rendered.replace("\u2010", "-"))
        for snippet in ["tracker-http.conf", "tracker-locations.conf"]:
            with open(os.path.join(self.root, "usr/share/fcgi-tracker/nginx", snippet)) as f, \
                    open(os.path.join(ROOT, "deploy/nginx", snippet)) as g:
                self.assertEqual(f.read(), g.read(), snippet)
        for installed, source in [("apache/tracker.conf", "deploy/apache/tracker.conf"),
                                  ("apache/htaccess", ".htaccess")]:
            with open(os.path.join(self.root, "usr/share/fcgi-tracker", installed)) as f, \
                    open(os.path.join(ROOT, source)) as g:
                self.assertEqual(f.read(), g.read(), installed)
        for unit in ["tracker-fcgi.socket", "tracker-fcgi.service"]:
            self.assertTrue(os.path.isfile(os.path.join(self.root, UNITS, unit)), unit)
        with open(os.path.join(self.root, "DEBIAN/conffiles")) as f:
            conffiles = f.read().split()
        self.assertIn("/etc/tracker/tracker.json", conffiles)
        self.assertIn("/etc/cron.d/tracker", conffiles)

    def test_the_config_is_the_example_listening_on_the_socket_unit(self):
        with open(os.path.join(self.root, "etc/tracker/tracker.json")) as f:
            installed = json.load(f)
        with open(os.path.join(ROOT, "deploy/tracker.example.json")) as f:
            example = json.load(f)
        self.assertEqual(installed.pop("listen"), "")  # fd 0: StandardInput=socket
        example.pop("listen")
        self.assertEqual(installed, example)
        mode = os.stat(os.path.join(self.root, "etc/tracker/tracker.json")).st_mode & 0o777
        self.assertEqual(mode, 0o640)

    def test_the_maintainer_scripts_make_the_user_and_keep_the_socket_on_upgrade(self):
        with open(os.path.join(self.root, "DEBIAN/postinst")) as f:
            postinst = f.read()
        self.assertEqual(run(["sh", "-n", os.path.join(self.root, "DEBIAN/postinst")]).returncode, 0)
        self.assertIn("adduser --quiet --system --ingroup tracker", postinst)
        self.assertIn("adduser --quiet tracker www-data", postinst)
        self.assertIn("dpkg-statoverride --update --add root tracker 0640 "
                      "/etc/tracker/tracker.json", postinst)
        # The user exists before debhelper's part starts the socket (SocketUser=tracker).
        self.assertLess(postinst.index("adduser"), postinst.index("deb-systemd-invoke"))
        # An upgrade restarts the service only: the socket (and its queue) stays.
        restarts = [line for line in postinst.splitlines() if "$_dh_action" in line and
                    "deb-systemd-invoke" in line]
        self.assertEqual(restarts, ["\t\tdeb-systemd-invoke $_dh_action 'tracker-fcgi.service' "
                                    ">/dev/null || true"])
        with open(os.path.join(self.root, "DEBIAN/prerm")) as f:
            prerm = f.read()
        for line in prerm.splitlines():
            if "deb-systemd-invoke stop" in line:
                self.assertIn('"$1" = remove', prerm[:prerm.index(line)].splitlines()[-1])

    def test_the_units_verify_and_say_socket_notify_watchdog(self):
        # systemd-analyze checks every key and that ExecStart= is there: the installed binary,
        # found at its scratch-root path.
        units = os.path.join(self.dir, "units")
        os.makedirs(units, exist_ok=True)
        for unit in ["tracker-fcgi.socket", "tracker-fcgi.service"]:
            with open(os.path.join(self.root, UNITS, unit)) as f:
                text = f.read().replace("/usr/bin/tracker-fcgi",
                                        os.path.join(self.root, "usr/bin/tracker-fcgi"))
            with open(os.path.join(units, unit), "w") as f:
                f.write(text)
        result = run(["systemd-analyze", "verify", "--man=no",
                      os.path.join(units, "tracker-fcgi.socket"),
                      os.path.join(units, "tracker-fcgi.service")], cwd=units)
        said = (result.stdout + result.stderr).decode("utf-8", "replace")
        self.assertEqual((result.returncode, said), (0, ""))

        sock = unit_keys(os.path.join(self.root, UNITS, "tracker-fcgi.socket"))
        self.assertEqual(sock["Socket"]["ListenStream"], ["/run/tracker/tracker-fcgi.sock"])
        self.assertEqual(sock["Socket"]["SocketUser"], ["tracker"])
        self.assertEqual(sock["Socket"]["SocketGroup"], ["www-data"])
        self.assertEqual(sock["Socket"]["SocketMode"], ["0660"])
        self.assertNotIn("Accept", sock["Socket"])  # one service for the socket, not one each
        self.assertEqual(sock["Install"]["WantedBy"], ["sockets.target"])
        service = unit_keys(os.path.join(self.root, UNITS, "tracker-fcgi.service"))
        s = service["Service"]
        self.assertEqual(s["Type"], ["notify"])
        self.assertEqual(s["StandardInput"], ["socket"])
        self.assertEqual(s["StandardOutput"], ["journal"])
        self.assertGreater(int(s["WatchdogSec"][0]), 0)
        self.assertEqual(s["Restart"], ["on-failure"])
        self.assertEqual(s["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(s["ExecStart"], ["/usr/bin/tracker-fcgi --config /etc/tracker/tracker.json"])
        self.assertEqual(s["User"], ["tracker"])
        # Removed at every stop, it would take the socket unit's path with it.
        self.assertNotIn("RuntimeDirectory", s)
        self.assertIn("tracker-fcgi.socket", service["Unit"]["Requires"])

    def test_the_cron_line_runs_tracker_cron_as_tracker_into_the_journal(self):
        with open(os.path.join(self.root, "etc/cron.d/tracker")) as f:
            lines = [l for l in f.read().splitlines() if l and not l.startswith("#")
                     and "=" not in l.split()[0]]
        self.assertEqual(len(lines), 1, lines)
        fields = lines[0].split(None, 6)
        self.assertEqual(fields[:6], ["*/15", "*", "*", "*", "*", "tracker"])
        self.assertIn("/usr/bin/tracker-cron --config /etc/tracker/tracker.json", fields[6])
        self.assertIn("| logger -t tracker-cron", fields[6])
        # The installed binary does the run the line asks for.
        result = run(self.installed("usr/bin/tracker-cron") + ["--config", self.config])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout.decode(), r"^tracker-cron: removed \d+ peers? and \d+ ")

    # ------------------------------------------------------------ what it installs, run --

    def start_nginx(self, fcgi_socket):
        """A private nginx whose one server block serves a site page and includes the installed
        tracker-locations.conf; the installed tracker-http.conf at http level, its upstream
        pointed at `fcgi_socket`."""
        nginx_dir = os.path.join(STATE, "nginx")
        d = os.path.join(self.dir, "nginx")
        for sub in ["site", "logs", "tmp"]:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "site", "index.html"), "w") as f:
            f.write("the site's own page\n")
        share = os.path.join(self.root, "usr/share/fcgi-tracker/nginx")
        with open(os.path.join(share, "tracker-http.conf")) as f:
            http_level = f.read()
        self.assertIn("unix:/run/tracker/tracker-fcgi.sock", http_level)
        http_level = http_level.replace("unix:/run/tracker/tracker-fcgi.sock",
                                        "unix:" + fcgi_socket)
        server = """
server {
    listen 127.0.0.1:%d;
    root %s;
    include %s;
    location / {
        try_files $uri =404;
    }
}
""" % (PORT, os.path.join(d, "site"), os.path.join(share, "tracker-locations.conf"))
        with open(os.path.join(d, "site.conf"), "w") as f:
            f.write(http_level + server)
        with open(os.path.join(nginx_dir, "nginx.conf")) as f:
            main = f.read().replace(os.path.join(nginx_dir, "tracker-server.conf"),
                                    os.path.join(d, "site.conf"))
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(main.replace(nginx_dir, d))
        shutil.copy(os.path.join(nginx_dir, "fastcgi_params"), d)
        result = run(["nginx", "-c", conf])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.addCleanup(run, ["nginx", "-c", conf, "-s", "quit"])
        site = Tracker(port=PORT)
        deadline = time.monotonic() + 10
        while True:
            try:
                if site.get("/index.html")[0] == 200:
                    return site
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "the site's nginx does not answer")
            time.sleep(0.1)

    def start_worker(self, listener, notify_path, config, watchdog_usec=None):
        """The installed tracker-fcgi as tracker-fcgi.service runs it: the socket on fd 0."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env["NOTIFY_SOCKET"] = notify_path
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        log = open(os.path.join(self.dir, "tracker-fcgi.log"), "ab")
        self.addCleanup(log.close)
        process = subprocess.Popen(self.installed("usr/bin/tracker-fcgi") + ["--config", config],
                                   stdin=listener.fileno(), stdout=log, stderr=log, env=env)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process

    def announce_params(self, info_hash, port, left=1000):
        return [("info_hash", info_hash), ("peer_id", os.urandom(20)), ("port", str(port)),
                ("uploaded", "0"), ("downloaded", "0"), ("left", str(left)),
                ("key", "pkg%d" % port), ("event", "started")]

    def test_the_installed_worker_behind_the_installed_snippet(self):
        fcgi_socket = os.path.join(self.dir, "fcgi.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(fcgi_socket)
        listener.listen(1024)
        self.addCleanup(listener.close)
        notify = Notifications(os.path.join(self.dir, "notify.sock"))
        self.addCleanup(notify.close)
        site = self.start_nginx(fcgi_socket)
        info_hash = os.urandom(20)
        added = run(self.installed("usr/bin/trackerctl") +
                    ["--config", self.config, "add", info_hash.hex(), "--name", "packaged"])
        self.assertEqual(added.returncode, 0, added.stderr)

        # A database without the migrations: the worker refuses to start and never says ready.
        bare = DB_NAME + "_bare"
        mariadb_root("DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s`" % (bare, bare))
        self.addCleanup(mariadb_root, "DROP DATABASE IF EXISTS `%s`" % bare)
        refused = self.start_worker(listener, notify.path, self.write_config(bare))
        self.assertEqual(refused.wait(30), 1)
        time.sleep(0.3)
        self.assertEqual(notify.count("READY=1", 0), 0)

        # READY=1 once it answers: the first announce after it is served.
        started = time.monotonic()
        first = self.start_worker(listener, notify.path, self.config, watchdog_usec=2000000)
        ready = notify.wait_for("READY=1", after=started)
        answer = site.announce(self.announce_params(info_hash, 9401))
        self.assertIn(b"interval", answer, answer)
        files = site.scrape([info_hash])[b"files"]
        self.assertIn(info_hash, files)
        self.assertEqual(site.get("/index.html")[2], b"the site's own page\n")
        self.assertEqual(site.get("/nothing-here")[0], 404)

        # The watchdog: WATCHDOG_USEC 2 s, a ping every second.
        time.sleep(2.6)
        self.assertGreaterEqual(notify.count("WATCHDOG=1", ready), 2)

        # SIGHUP: RELOADING=1, then READY=1 again once the config is read.
        hup = time.monotonic()
        first.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1", after=hup)
        self.assertGreater(notify.wait_for("READY=1", after=reloading), reloading)
        self.assertIsNone(first.poll())

        # SIGTERM: STOPPING=1, exit 0, and the socket it was given stays listening.
        term = time.monotonic()
        first.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", after=term)
        self.assertEqual(first.wait(30), 0)
        # Announces while no worker runs (a package upgrade's restart) wait in the socket's
        # backlog, through nginx, and are answered by the next worker.
        results = []

        def announce(port):
            try:
                results.append(site.announce(self.announce_params(info_hash, port)))
            except Exception as error:  # noqa: BLE001 - recorded and asserted below
                results.append(error)

        waiting = [threading.Thread(target=announce, args=(9410 + n,)) for n in range(4)]
        for thread in waiting:
            thread.start()
        time.sleep(1.0)
        self.assertEqual(results, [], "answered (or refused) while no worker ran")
        restarted = time.monotonic()
        second = self.start_worker(listener, notify.path, self.config)  # no watchdog asked
        notify.wait_for("READY=1", after=restarted)
        for thread in waiting:
            thread.join(30)
        self.assertEqual(len(results), 4, results)
        for result in results:
            self.assertIsInstance(result, dict, result)
            self.assertIn(b"interval", result)

        # Without WATCHDOG_USEC, no pings.
        time.sleep(2.0)
        self.assertEqual(notify.count("WATCHDOG=1", restarted), 0)
        term = time.monotonic()
        second.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", after=term)
        self.assertEqual(second.wait(30), 0)


if __name__ == "__main__":
    unittest.main()
