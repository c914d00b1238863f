"""End to end through Apache 2.4: Debian's apache2 with mod_rewrite and mod_proxy_fcgi, serving
the repository's .htaccess unchanged in its document root, in front of a tracker-fcgi on the same
database as the nginx stack tests/run starts.

The shipped .htaccess proxies to unix:/run/tracker/tracker-fcgi.sock. So that the test neither
needs nor touches a real /run/tracker, Apache runs in a private mount namespace (unshare) where a
tmpfs covers /run and /run/tracker is a bind mount of this test's own socket directory. Where
mount namespaces are not allowed, it falls back to the real /run/tracker, under a lock, and only
when no live tracker answers there. Apache runs its children as www-data, like Debian's: the
socket gets group www-data and mode 0770, as deploy/tracker-fcgi.service gives it.

Needs root (Apache's User directive, the mount namespace). Everything started is stopped by PID;
every wait is bounded; a failure shows Apache's error and access logs and the worker's log.
"""

import fcntl
import grp
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import test_clients
from test_clients import LibtorrentClient, diagnostics, make_torrent, register_torrent, wait_for
from trackerclient import (Tracker, bdecode, compact_peers, encode_all, encode_libtorrent, mariadb,
                           query, register, settle)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED_SOCKET_DIR = "/run/tracker"
SHIPPED_SOCKET = SHIPPED_SOCKET_DIR + "/tracker-fcgi.sock"
MODULE_DIR = "/usr/lib/apache2/modules"
MODULES = ["mpm_event", "authz_core", "rewrite", "proxy", "proxy_fcgi", "mime", "dir"]
WEB_USER = "www-data"


def apache_binary():
    for candidate in (shutil.which("apache2"), "/usr/sbin/apache2"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def tracker_fcgi_binary():
    path = os.environ.get("TRACKER_FCGI")
    if not path:
        build = os.environ.get("TRACKER_TEST_BUILD_DIR", os.path.join(ROOT, "build"))
        path = os.path.join(build, "app", "tracker-fcgi")
    return path


def state_base():
    state = os.environ.get("TRACKER_TEST_STATE_DIR")
    if state:
        return os.path.join(state, "apache")
    return None


def tail(path, lines=40):
    if not os.path.exists(path):
        return "--- %s: missing ---\n" % path
    with open(path, "rb") as f:
        text = f.read()[-64 * 1024:].decode("utf-8", "replace")
    return "--- %s (last %d lines) ---\n%s\n" % (path, lines, "\n".join(text.splitlines()[-lines:]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def socket_answers(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def mount_namespaces_work():
    """Whether this process may do what start_apache does: a private /run in a new mount
    namespace (root in a container may lack the capability)."""
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               "mount -n -t tmpfs tmpfs /run && mkdir /run/tracker"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def stop_pid(process, grace, name=None, log=None):
    """SIGTERM, then SIGKILL after GRACE seconds; by PID (the Popen we started). With NAME,
    anything but a clean exit 0 (e.g. a sanitizer report) is an error showing LOG."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            if name:
                raise AssertionError("%s ignored SIGTERM for %ds\n%s" % (name, grace, tail(log)))
    if name and process.returncode != 0:
        raise AssertionError("%s exited with status %d\n%s" % (name, process.returncode,
                                                              tail(log)))


def peer(info_hash, port, left, key, **extra):
    params = [("info_hash", info_hash), ("peer_id", os.urandom(20)), ("port", str(port)),
              ("uploaded", "0"), ("downloaded", "0"), ("left", str(left)), ("key", key)]
    return params + list(extra.items())


def register_here(info_hash, name):
    """Registers the torrent, then waits until the worker behind Apache serves it. Its /stats
    are not reachable through the shipped .htaccess, so caught_up() cannot ask it: a settle
    (several of its pull intervals) stands in."""
    register(info_hash, name)
    settle()



def server_conf(state, listen, modules, log_format):
    """The server-wide part of a private Apache's config: its files under STATE, the LISTEN
    lines, the MODULES' LoadModule lines, one small threaded MPM, LOG_FORMAT for access.log."""
    return """ServerRoot "{state}"
ServerName 127.0.0.1
{listen}PidFile "{state}/apache2.pid"
DefaultRuntimeDir "{state}"
Mutex file:{state} default
ErrorLog "{state}/error.log"
LogLevel warn
LogFormat {log_format} access
CustomLog "{state}/access.log" access
User {user}
Group {user}
{modules}
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
TypesConfig /etc/mime.types
AccessFileName .htaccess""".format(state=state, listen=listen, log_format=log_format,
                                   user=WEB_USER, modules=modules)

class ApacheTest(unittest.TestCase):
    """Announce and scrape through Apache with the shipped .htaccess."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: Apache switches to www-data, and the test "
                                    "mounts its socket at /run/tracker")
        cls.apache = apache_binary()
        if cls.apache is None:
            raise AssertionError("apache2 not found: apt-get install apache2-bin (tests/run "
                                 "installs it)")
        for module in MODULES:
            if not os.path.exists(os.path.join(MODULE_DIR, "mod_%s.so" % module)):
                raise AssertionError("mod_%s.so not in %s" % (module, MODULE_DIR))
        cls.fcgi = tracker_fcgi_binary()
        if not os.access(cls.fcgi, os.X_OK):
            raise AssertionError("tracker-fcgi not built: %s" % cls.fcgi)
        cls.web_gid = grp.getgrnam(WEB_USER).gr_gid

        base = state_base()
        if base:
            shutil.rmtree(base, ignore_errors=True)
            os.makedirs(base)
        else:
            base = tempfile.mkdtemp(prefix="tracker-e2e-apache-state-")
            cls.addClassCleanup(shutil.rmtree, base, True)
        cls.state = base
        # The document root: readable by www-data whatever the state dir's parents allow.
        cls.docroot = tempfile.mkdtemp(prefix="tracker-e2e-apache-root-")
        cls.addClassCleanup(shutil.rmtree, cls.docroot, True)
        os.chmod(cls.docroot, 0o755)
        shutil.copy(os.path.join(ROOT, ".htaccess"), os.path.join(cls.docroot, ".htaccess"))
        # The .htaccess also serves a sub-directory (/tracker/announce), as it says.
        os.makedirs(os.path.join(cls.docroot, "tracker"), mode=0o755)
        shutil.copy(os.path.join(ROOT, ".htaccess"),
                    os.path.join(cls.docroot, "tracker", ".htaccess"))
        for path in (os.path.join(cls.docroot, ".htaccess"),
                     os.path.join(cls.docroot, "tracker", ".htaccess")):
            os.chmod(path, 0o644)

        # TRACKER_TEST_APACHE_NO_NAMESPACE=1 tries the fallback on a machine that has both.
        cls.namespace = (not os.environ.get("TRACKER_TEST_APACHE_NO_NAMESPACE")
                         and mount_namespaces_work())
        if cls.namespace:
            cls.socket_dir = os.path.join(base, "run")
            os.makedirs(cls.socket_dir)
        else:
            cls.socket_dir = SHIPPED_SOCKET_DIR
            cls.take_shipped_socket_path()
        cls.logs = [os.path.join(base, n) for n in ("error.log", "access.log",
                                                    "apache2.stderr", "tracker-fcgi.log")]
        cls.start_worker()
        cls.start_apache()
        cls.tracker = Tracker(port=cls.port)

    @classmethod
    def take_shipped_socket_path(cls):
        """Fallback without mount namespaces: the real /run/tracker, one test run at a time,
        never when a live tracker answers there."""
        if not os.path.isdir(SHIPPED_SOCKET_DIR):
            os.makedirs(SHIPPED_SOCKET_DIR, mode=0o755)
            cls.addClassCleanup(lambda: os.rmdir(SHIPPED_SOCKET_DIR)
                                if not os.listdir(SHIPPED_SOCKET_DIR) else None)
        lock = open(os.path.join(SHIPPED_SOCKET_DIR, ".e2e-apache.lock"), "w")
        cls.addClassCleanup(lock.close)
        deadline = time.monotonic() + 120
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError("another Apache test holds %s for 120s" % lock.name)
                time.sleep(0.5)
        cls.addClassCleanup(lambda: os.unlink(lock.name) if os.path.exists(lock.name) else None)
        if os.path.exists(SHIPPED_SOCKET):
            if socket_answers(SHIPPED_SOCKET):
                raise unittest.SkipTest("a tracker already serves %s and mount namespaces are "
                                        "not available: not touching it" % SHIPPED_SOCKET)
            os.unlink(SHIPPED_SOCKET)

    @classmethod
    def start_worker(cls):
        sock = os.path.join(cls.socket_dir, "tracker-fcgi.sock")
        config = os.path.join(cls.state, "tracker.json")
        with open(config, "w") as f:
            json.dump({"database": {"socket": os.environ["TRACKER_TEST_DB_SOCKET"],
                                    "user": "root", "password": "",
                                    "name": os.environ["TRACKER_TEST_DB_NAME"]},
                       "workers": 4, "poolSize": 2, "listen": sock}, f, indent=2)
        with open(os.path.join(cls.state, "tracker-fcgi.log"), "ab") as log:
            worker = subprocess.Popen([cls.fcgi, "--config", config], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        cls.addClassCleanup(lambda: os.path.exists(sock) and not cls.namespace
                            and os.unlink(sock))
        cls.addClassCleanup(stop_pid, worker, 15, "tracker-fcgi (Apache's)", cls.logs[3])
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("tracker-fcgi did not create %s\n%s"
                                     % (sock, tail(cls.logs[3])))
            time.sleep(0.05)
        # As the systemd unit makes it: group www-data, 0770, in a directory www-data enters.
        os.chown(sock, -1, cls.web_gid)
        os.chmod(sock, 0o770)
        if cls.namespace:
            os.chown(cls.socket_dir, -1, cls.web_gid)
            os.chmod(cls.socket_dir, 0o750)

    @classmethod
    def start_apache(cls):
        cls.port = free_port()
        conf = os.path.join(cls.state, "apache2.conf")
        modules = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULE_DIR, m)
                            for m in MODULES)
        with open(conf, "w") as f:
            f.write("""# Generated by tests/e2e/test_apache.py: a minimal Apache in front of the
# repository's .htaccess, copied unchanged into the document root.
{server}
DocumentRoot "{docroot}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{docroot}">
    # What the .htaccess asks of the site.
    AllowOverride FileInfo
    Options FollowSymLinks
    Require all granted
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>
""".format(server=server_conf(cls.state, "Listen 127.0.0.1:%d\n" % cls.port, modules,
                                      '"%h \\"%r\\" %>s %b \\"%{User-Agent}i\\""'),
                      docroot=cls.docroot))
        argv = [cls.apache, "-f", conf, "-DFOREGROUND"]
        if cls.namespace:
            # unshare and sh both exec: the PID we hold is Apache's parent process. mount -n:
            # no utab bookkeeping under the host's /run.
            script = ('mount -n -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/tracker && '
                      'mount -n --bind "$0" /run/tracker && exec "$@"')
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                    cls.socket_dir] + argv
        with open(os.path.join(cls.state, "apache2.stderr"), "ab") as log:
            apache = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        cls.addClassCleanup(stop_pid, apache, 10)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", cls.port), timeout=1):
                    break
            except OSError:
                if apache.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("Apache is not answering on 127.0.0.1:%d\n%s"
                                         % (cls.port, cls.diagnostics()))
                time.sleep(0.05)

    @classmethod
    def diagnostics(cls):
        return "".join(tail(path) for path in cls.logs)

    def announce(self, params, path="/announce"):
        status, headers, body = self.tracker.get(path + "?" + "&".join(
            "%s=%s" % (k, "".join("%%%02X" % b for b in v) if isinstance(v, bytes) else v)
            for k, v in params))
        self.assertEqual(status, 200, "%s: HTTP %d %r\n%s" % (path, status, body,
                                                                self.diagnostics()))
        self.assertTrue(headers["Content-Type"].startswith("text/plain"), headers)
        answer = bdecode(body)
        self.assertNotIn(b"failure reason", answer)
        return answer

    def scrape(self, hashes, path="/scrape"):
        status, _, body = self.tracker.get(path + "?" + "&".join(
            "info_hash=" + "".join("%%%02X" % b for b in h) for h in hashes))
        self.assertEqual(status, 200, "%s: HTTP %d %r\n%s" % (path, status, body,
                                                                self.diagnostics()))
        return bdecode(body)

    def test_announce_and_scrape(self):
        info_hash = os.urandom(20)
        register_here(info_hash, "through apache")
        self.announce(peer(info_hash, 7101, 0, "ap1", event="started", compact="1"))
        self.announce(peer(info_hash, 7102, 500, "ap2", event="started", compact="1"))
        settle()
        answer = self.announce(peer(info_hash, 7102, 500, "ap2", compact="1"))
        self.assertEqual(compact_peers(answer[b"peers"]), [("127.0.0.1", 7101)])
        self.assertEqual((answer[b"complete"], answer[b"incomplete"]), (1, 1))
        self.assertEqual(answer[b"external ip"], bytes([127, 0, 0, 1]))
        self.assertEqual(answer[b"interval"], 900)
        # Dictionary peers, too.
        answer = self.announce(peer(info_hash, 7102, 500, "ap2", compact="0"))
        self.assertEqual([(p[b"ip"], p[b"port"]) for p in answer[b"peers"]],
                         [(b"127.0.0.1", 7101)])
        self.announce(peer(info_hash, 7102, 0, "ap2", event="completed"))
        settle()
        files = self.scrape([info_hash])[b"files"]
        self.assertEqual(files[info_hash], {b"complete": 2, b"downloaded": 1, b"incomplete": 0,
                                            b"name": b"through apache"})
        rows = mariadb("SELECT p.ip, p.port, p.residual FROM peers p JOIN torrents t "
                       "USING (tid) WHERE t.infohash = UNHEX('%s') ORDER BY p.port"
                       % info_hash.hex())
        self.assertEqual(rows, "127.0.0.1\t7101\t0\n127.0.0.1\t7102\t0\n")
        # A full scrape is served as well.
        status, _, body = self.tracker.get("/scrape")
        self.assertEqual(status, 200)
        self.assertIn(info_hash, bdecode(body)[b"files"])

    def test_binary_query_reaches_the_worker_byte_exact(self):
        # Bytes that a rewrite or proxy layer could mangle: NUL, & = + % / ? # space, 0xFF.
        info_hash = bytes([0x00, 0x26, 0x3D, 0x2B, 0x25, 0x2F, 0x3F, 0x23, 0x20, 0xFF]) + \
            os.urandom(10)
        register_here(info_hash, "binary via apache")
        peer_id = b"-LT2080-w4UO)MUIkbRU"
        raw = ("info_hash=%s&peer_id=%s&port=7201&uploaded=0&downloaded=0&left=1&key=apb"
               % (encode_libtorrent(info_hash), encode_libtorrent(peer_id)))
        status, _, body = self.tracker.get("/announce?" + raw)
        self.assertEqual(status, 200, self.diagnostics())
        self.assertNotIn(b"failure reason", bdecode(body), body)
        settle()
        self.assertEqual(mariadb("SELECT HEX(p.peerId) FROM peers p JOIN torrents t USING (tid)"
                                 " WHERE t.infohash = UNHEX('%s')" % info_hash.hex()).strip(),
                         peer_id.hex().upper())
        self.assertEqual(self.scrape([info_hash])[b"files"][info_hash][b"incomplete"], 1)

    def test_php_script_names_and_a_subdirectory(self):
        info_hash = os.urandom(20)
        register_here(info_hash, "php names")
        self.announce(peer(info_hash, 7301, 0, "php1"), path="/announce.php")
        settle()
        answer = self.announce(peer(info_hash, 7302, 9, "php2"), path="/tracker/announce")
        self.assertEqual(compact_peers(answer[b"peers"]), [("127.0.0.1", 7301)])
        answer = self.announce(peer(info_hash, 7303, 9, "php3"), path="/tracker/announce.php")
        self.assertEqual(answer[b"complete"], 1)
        settle()
        for path in ("/scrape.php", "/tracker/scrape", "/tracker/scrape.php"):
            files = self.scrape([info_hash], path=path)[b"files"]
            self.assertEqual(files[info_hash][b"incomplete"], 2, path)

    def test_browsers_get_403(self):
        for agent in ("Mozilla/5.0 (X11; Linux x86_64)", "Opera/9.80", "Lynx/2.8.9",
                      "Links (2.29; Linux)"):
            for path in ("/announce?info_hash=x", "/scrape", "/announce.php"):
                status, _, _ = self.tracker.get(path, user_agent=agent)
                self.assertEqual(status, 403, (agent, path))

    def test_other_paths_are_not_served(self):
        for path in ("/index.php", "/announcer", "/backend/config.php", "/cron.php",
                     "/announce/x", "/tracker/other"):
            status, _, _ = self.tracker.get(path)
            self.assertEqual(status, 404, path)
        # The directory itself: no index and no Indexes option, so Apache says 403 (nginx 404).
        status, _, _ = self.tracker.get("/")
        self.assertIn(status, (403, 404))
        status, _, _ = self.tracker.get("/.htaccess")
        self.assertEqual(status, 403)

    def test_requests_went_through_apache_and_the_worker(self):
        # The access log shows Apache served them; the worker's own log shows it is this one.
        self.tracker.get("/announce?info_hash=probe")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(self.logs[1], "rb") as f:
                if b'"GET /announce?info_hash=probe HTTP/1.1" 200' in f.read():
                    break
            time.sleep(0.1)
        else:
            self.fail("announce not in Apache's access log\n" + self.diagnostics())
        with open(self.logs[3], "rb") as f:
            self.assertIn(b"serving on", f.read())

    @unittest.skipIf(test_clients.lt is None, "python3-libtorrent is not importable")
    def test_libtorrent_transfer_through_apache(self):
        """Real clients announcing through Apache find each other and move the file."""
        workdir = tempfile.mkdtemp(prefix="tracker-e2e-apache-lt-")
        self.addCleanup(shutil.rmtree, workdir, True)
        announce = "http://127.0.0.1:%d/announce" % self.port
        torrent, payload, info_hash = make_torrent(workdir, "apache-payload.bin", announce)
        register_torrent(torrent, info_hash, "libtorrent via apache", workdir)
        settle()  # the worker behind Apache follows the registry too (see register_here)
        seeder = LibtorrentClient("seeder")
        self.addCleanup(seeder.close)
        leecher = LibtorrentClient("leecher")
        self.addCleanup(leecher.close)
        clients = [seeder, leecher]
        report = diagnostics(clients, [(os.path.basename(p), p) for p in self.logs])

        def pump():
            seeder.pump()
            leecher.pump()

        seeder.add(torrent, os.path.join(workdir, "seed"), seed=True)
        wait_for("the seeder's announce through Apache", lambda: seeder.tracker_replies(),
                 test_clients.TRANSFER_TIMEOUT, report, pump=pump)
        download_dir = os.path.join(workdir, "download")
        os.makedirs(download_dir)
        leecher.add(torrent, download_dir)
        wait_for("the download to finish", lambda: leecher.handle.status().is_seeding,
                 test_clients.TRANSFER_TIMEOUT, report, pump=pump)
        with open(os.path.join(download_dir, "apache-payload.bin"), "rb") as f:
            self.assertTrue(f.read() == payload, "downloaded bytes differ from the original")
        counts = wait_for("scrape through Apache to show 2 seeders and 1 download",
                          lambda: self.counts(info_hash) == (2, 0, 1) and (2, 0, 1), 15, report,
                          poll=0.2, pump=pump)
        self.assertEqual(counts, (2, 0, 1))

    def counts(self, info_hash):
        entry = self.scrape([info_hash])[b"files"][info_hash]
        return entry[b"complete"], entry[b"incomplete"], entry[b"downloaded"]


def non_loopback_address():
    """An address of this machine other than the loopback (to be refused /tracker/stats from),
    or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: it only picks a source address
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


class SiteConfTest(unittest.TestCase):
    """deploy/apache/tracker.conf (what a site enables with a2enconf) included in a server
    whose ONE virtual host serves the site's own page and, through the shipped .htaccess, the
    tracker: announce and scrape with and without .php, at a prefix too, and /tracker/stats
    and /tracker/metrics from the loopback only. The worker's socket is not the default one:
    TRACKER_SOCKET, defined before the conf is read, is the only thing that names it."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: Apache switches to www-data")
        cls.apache = apache_binary()
        if cls.apache is None:
            raise AssertionError("apache2 not found: apt-get install apache2-bin")
        cls.fcgi = tracker_fcgi_binary()
        web_gid = grp.getgrnam(WEB_USER).gr_gid
        base = state_base()
        cls.state = (base + "-site-conf") if base else tempfile.mkdtemp(
            prefix="tracker-e2e-apache-conf-state-")
        shutil.rmtree(cls.state, ignore_errors=True)
        os.makedirs(cls.state)
        cls.docroot = tempfile.mkdtemp(prefix="tracker-e2e-apache-site-")
        cls.addClassCleanup(shutil.rmtree, cls.docroot, True)
        os.chmod(cls.docroot, 0o755)
        with open(os.path.join(cls.docroot, "index.html"), "w") as f:
            f.write("the site's own page\n")
        os.makedirs(os.path.join(cls.docroot, "tracker"), mode=0o755)
        for directory in (cls.docroot, os.path.join(cls.docroot, "tracker")):
            shutil.copy(os.path.join(ROOT, ".htaccess"), os.path.join(directory, ".htaccess"))
        for path in glob_files(cls.docroot):
            os.chmod(path, 0o644)
        # Not /run/tracker: only TRACKER_SOCKET leads Apache here.
        cls.socket_dir = tempfile.mkdtemp(prefix="tracker-e2e-apache-sock-")
        cls.addClassCleanup(shutil.rmtree, cls.socket_dir, True)
        cls.socket = os.path.join(cls.socket_dir, "site-tracker.sock")
        cls.logs = [os.path.join(cls.state, n) for n in ("error.log", "access.log",
                                                         "apache2.stderr", "tracker-fcgi.log")]

        config = os.path.join(cls.state, "tracker.json")
        with open(config, "w") as f:
            json.dump({"database": {"socket": os.environ["TRACKER_TEST_DB_SOCKET"],
                                    "user": "root", "password": "",
                                    "name": os.environ["TRACKER_TEST_DB_NAME"]},
                       "workers": 4, "poolSize": 2, "listen": cls.socket}, f, indent=2)
        with open(cls.logs[3], "ab") as log:
            worker = subprocess.Popen([cls.fcgi, "--config", config], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        cls.addClassCleanup(stop_pid, worker, 15, "tracker-fcgi (the site conf's)", cls.logs[3])
        wait_until("tracker-fcgi's socket", lambda: os.path.exists(cls.socket)
                   or worker.poll() is not None, cls.diagnostics)
        os.chown(cls.socket, -1, web_gid)
        os.chmod(cls.socket, 0o770)
        os.chown(cls.socket_dir, -1, web_gid)
        os.chmod(cls.socket_dir, 0o750)

        cls.port = free_port()
        cls.other = non_loopback_address()
        listen = "Listen 127.0.0.1:%d\n" % cls.port
        if cls.other:
            listen += "Listen %s:%d\n" % (cls.other, cls.port)
        modules = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULE_DIR, m)
                            for m in MODULES + ["authz_host"])
        conf = os.path.join(cls.state, "apache2.conf")
        with open(conf, "w") as f:
            f.write("""# Generated by tests/e2e/test_apache.py (SiteConfTest): a site's Apache with
# deploy/apache/tracker.conf enabled and the socket path set before it, as its comments say.
{server}
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>

# conf-enabled/tracker-socket.conf, then conf-enabled/tracker.conf
Define TRACKER_SOCKET {socket}
Include "{root}/deploy/apache/tracker.conf"

<VirtualHost *:{port}>
    DocumentRoot "{docroot}"
    <Directory "{docroot}">
        AllowOverride FileInfo
        Options FollowSymLinks
        Require all granted
    </Directory>
</VirtualHost>
""".format(server=server_conf(cls.state, listen, modules, '"%h \\"%r\\" %>s %b"'),
           port=cls.port, socket=cls.socket, root=ROOT, docroot=cls.docroot))
        with open(cls.logs[2], "ab") as log:
            apache = subprocess.Popen([cls.apache, "-f", conf, "-DFOREGROUND"],
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        cls.addClassCleanup(stop_pid, apache, 10)

        def answers():
            if apache.poll() is not None:
                raise AssertionError("Apache exited\n" + cls.diagnostics())
            try:
                with socket.create_connection(("127.0.0.1", cls.port), timeout=1):
                    return True
            except OSError:
                return False
        wait_until("Apache on 127.0.0.1:%d" % cls.port, answers, cls.diagnostics)
        cls.site = Tracker(port=cls.port)

    @classmethod
    def diagnostics(cls):
        return "".join(tail(path) for path in cls.logs)

    def test_the_site_page_and_the_tracker_from_one_virtual_host(self):
        browser = "Mozilla/5.0 (X11; Linux x86_64)"
        status, _, body = self.site.get("/index.html", user_agent=browser)
        self.assertEqual((status, body), (200, b"the site's own page\n"))
        self.assertEqual(self.site.get("/", user_agent=browser)[2], b"the site's own page\n")

        info_hash = os.urandom(20)
        register_here(info_hash, "site conf")
        first = peer(info_hash, 7401, 0, "sc1", event="started")
        for path in ("/announce", "/announce.php", "/tracker/announce", "/tracker/announce.php"):
            status, _, body = self.site.get(path + "?" + query(first))
            self.assertEqual(status, 200, (path, body, self.diagnostics()))
            answer = bdecode(body)
            self.assertNotIn(b"failure reason", answer, path)
            self.assertIn(b"external ip", answer, path)  # the worker's answer
        settle()
        answer = bdecode(self.site.get("/tracker/announce.php?" + query(
            peer(info_hash, 7402, 5, "sc2")))[2])
        self.assertEqual(compact_peers(answer[b"peers"]), [("127.0.0.1", 7401)])
        settle()
        for path in ("/scrape", "/scrape.php", "/tracker/scrape", "/tracker/scrape.php"):
            status, _, body = self.site.get(path + "?info_hash=" + encode_all(info_hash))
            self.assertEqual(status, 200, (path, body))
            files = bdecode(body)[b"files"]
            self.assertEqual((files[info_hash][b"complete"], files[info_hash][b"incomplete"]),
                             (1, 1), path)
        self.assertEqual(self.site.get("/announce.php", user_agent=browser)[0], 403)

    def test_stats_and_metrics_for_the_loopback_only(self):
        status, _, body = self.site.get("/tracker/stats")
        self.assertEqual(status, 200, (body, self.diagnostics()))
        self.assertIn("pid", json.loads(body))
        status, _, body = self.site.get("/tracker/metrics")
        self.assertEqual(status, 200, (body, self.diagnostics()))
        self.assertIn(b"# TYPE", body)
        if self.other is None:
            self.skipTest("no address but the loopback to be refused from")
        outside = Tracker(host=self.other, port=self.port)
        for path in ("/tracker/stats", "/tracker/metrics"):
            self.assertEqual(outside.get(path)[0], 403, path)
        self.assertEqual(outside.get("/index.html")[0], 200)

    def test_the_socket_is_the_defined_one(self):
        # The worker's own log says it serves on the non-default path, and no /run/tracker
        # socket takes part: the requests above reached it through TRACKER_SOCKET alone.
        with open(self.logs[3], "rb") as f:
            self.assertIn(b"serving on " + self.socket.encode(), f.read())
        self.assertEqual(self.site.get("/tracker/stats")[0], 200)
        with open(self.logs[0], "rb") as f:
            self.assertNotIn(b"is not defined", f.read())


def glob_files(top):
    return [os.path.join(d, n) for d, _, names in os.walk(top) for n in names]


def wait_until(what, check, diagnostics, timeout=10):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("%s: not after %d s\n%s" % (what, timeout, diagnostics()))
        time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()
