"""Helpers shared by the robustness tests (test_bad_input, test_outage, test_overload): a raw
HTTP/1.1 client that sends exactly the bytes it is given (urllib refuses most bad requests
before they leave), answer classification, the worker's /stats, and stopping and starting the
private MariaDB that tests/run started, through deploy/lib/services.sh."""

import json
import os
import socket
import subprocess
import time

from trackerclient import bdecode, mariadb

HOST = "127.0.0.1"


def http_port():
    return int(os.environ["TRACKER_TEST_HTTP_PORT"])


class Answer:
    """One HTTP exchange: status (int, or None when no status line came back), headers (dict,
    lower-case names), body (bytes), seconds (wall time), error (None or the exception text:
    timeout, reset, refused)."""

    def __init__(self, status=None, headers=None, body=b"", seconds=0.0, error=None):
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.seconds = seconds
        self.error = error

    def __repr__(self):
        return "Answer(status=%r, error=%r, %.2fs, body=%r)" % (
            self.status, self.error, self.seconds, self.body[:160])


def _dechunk(body: bytes) -> bytes:
    out, i = b"", 0
    while True:
        end = body.index(b"\r\n", i)
        size = int(body[i:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += body[end + 2:end + 2 + size]
        i = end + 2 + size + 2


def raw_exchange(request: bytes, timeout=10.0, port=None) -> Answer:
    """Sends `request` (a whole HTTP request, bytes) on a new connection and reads the answer
    until the server closes. Never raises for network trouble: it lands in Answer.error."""
    started = time.monotonic()
    data = b""
    try:
        with socket.create_connection((HOST, port or http_port()), timeout=timeout) as sock:
            sock.sendall(request)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if time.monotonic() - started > timeout:
                    raise socket.timeout("answer not finished after %.0fs" % timeout)
    except (OSError, socket.timeout) as error:
        return Answer(body=data, seconds=time.monotonic() - started,
                      error="%s: %s" % (type(error).__name__, error))
    seconds = time.monotonic() - started
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return Answer(body=data, seconds=seconds,
                      error="no complete HTTP header in %r" % data[:200])
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return Answer(body=data, seconds=seconds, error="bad status line %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        try:
            body = _dechunk(body)
        except (ValueError, IndexError):
            return Answer(int(parts[1]), headers, body, seconds, "bad chunked body")
    elif body and headers.get("content-length", str(len(body))) != str(len(body)):
        # (A HEAD answer has the length of the GET body and no body: not checked.)
        return Answer(int(parts[1]), headers, body, seconds,
                      "body of %d bytes, Content-Length %s" % (len(body),
                                                               headers["content-length"]))
    return Answer(int(parts[1]), headers, body, seconds)


def request_bytes(method: bytes, target: bytes, body: bytes = None, extra_headers=b"",
                  user_agent=b"robustness-test/1.0") -> bytes:
    head = (method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " +
            user_agent + b"\r\nConnection: close\r\n" + extra_headers)
    if body is not None:
        head += b"Content-Type: application/x-www-form-urlencoded\r\n"
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + (body or b"")


def http_get(target, timeout=10.0) -> Answer:
    if isinstance(target, str):
        target = target.encode("latin-1")
    return raw_exchange(request_bytes(b"GET", target), timeout=timeout)


def failure_reason(answer: Answer):
    """The failure reason (str) when the answer is HTTP 200 with a bencoded dict whose only key
    is `failure reason`; else None."""
    if answer.error or answer.status != 200:
        return None
    try:
        decoded = bdecode(answer.body)
    except (ValueError, IndexError, AssertionError):
        return None
    if not isinstance(decoded, dict) or list(decoded.keys()) != [b"failure reason"]:
        return None
    if not isinstance(decoded[b"failure reason"], bytes):
        return None
    return decoded[b"failure reason"].decode("utf-8", "replace")


def announce_accepted(answer: Answer):
    """The decoded announce answer when it is a success (HTTP 200, a bencoded dict with an
    interval and no failure reason); else None."""
    if answer.error or answer.status != 200:
        return None
    try:
        decoded = bdecode(answer.body)
    except (ValueError, IndexError, AssertionError):
        return None
    if not isinstance(decoded, dict) or b"failure reason" in decoded:
        return None
    if not isinstance(decoded.get(b"interval"), int):
        return None
    return decoded


def is_clean_4xx(answer: Answer):
    return answer.error is None and answer.status is not None and 400 <= answer.status < 500


def stats():
    """The worker's /stats JSON (asked from 127.0.0.1, which the allow-lists admit)."""
    answer = http_get("/stats")
    if answer.error or answer.status != 200:
        raise AssertionError("GET /stats: %r" % answer)
    return json.loads(answer.body)


def peer_rows(info_hash: bytes) -> int:
    return int(mariadb("SELECT COUNT(*) FROM peers p JOIN torrents t USING (tid) "
                       "WHERE t.infohash = UNHEX('%s')" % info_hash.hex()).strip())


def torrent_id(info_hash: bytes) -> int:
    return int(mariadb("SELECT tid FROM torrents WHERE infohash = UNHEX('%s')"
                       % info_hash.hex()).strip())


# ------------------------------------------------------------- the stack --

def state_dir():
    return os.environ["TRACKER_TEST_STATE_DIR"]


def repo_root():
    return os.environ.get("TRACKER_TEST_ROOT") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def have_stack_control():
    return bool(os.environ.get("TRACKER_TEST_STATE_DIR"))


def services(function: str, timeout=90):
    """Runs one deploy/lib/services.sh function (mariadb_stop, mariadb_start ...) on the stack
    tests/run started; returns (exit status, combined output)."""
    env = dict(os.environ, ROOT=repo_root(), STATE_DIR=state_dir())
    script = 'source "$ROOT/deploy/lib/services.sh" && %s' % function
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                            timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def worker_pid():
    with open(os.path.join(state_dir(), "tracker-fcgi.pid")) as f:
        return int(f.read().strip())


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def worker_log_tail(lines=40):
    path = os.path.join(state_dir(), "tracker-fcgi.log") if have_stack_control() else None
    if not path or not os.path.exists(path):
        return "(no worker log)"
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def mariadb_up():
    try:
        mariadb("SELECT 1")
        return True
    except subprocess.CalledProcessError:
        return False


def ensure_mariadb_running():
    """Never leave the suite with MariaDB stopped: start it (reused when it runs)."""
    if not mariadb_up():
        status, output = services("mariadb_start")
        if status != 0:
            raise AssertionError("mariadb_start failed:\n" + output)


# ------------------------------------------------------------- load --

def announce_target(info_hash: bytes, key: str, port=6881, left=100, event="started"):
    from trackerclient import encode_all
    return ("/announce?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=%d"
            "&key=%s&event=%s&compact=1&numwant=5" % (
                encode_all(info_hash), encode_all(os.urandom(20)), port, left, key, event))


class Record:
    """One announce of a load run: its key, when it was sent and answered (monotonic), and
    the answer."""

    def __init__(self, key, sent, done, answer):
        self.key, self.sent, self.done, self.answer = key, sent, done, answer

    def __repr__(self):
        return "Record(%s, %.2fs, %r)" % (self.key, self.done - self.sent, self.answer)

    @property
    def accepted(self):
        return announce_accepted(self.answer) is not None

    @property
    def reason(self):
        return failure_reason(self.answer)


class AnnounceLoad:
    """Announces from `threads` threads, every one with a key of its own, paced to about `rate`
    requests a second in all (rate None: back to back), until stop(). `info_hash` is one
    torrent, or a list: thread i announces torrent i modulo its length."""

    def __init__(self, info_hash, prefix, rate=50, threads=8, timeout=10.0):
        import threading
        hashes = info_hash if isinstance(info_hash, list) else [info_hash]
        self.prefix, self.rate, self.timeout = prefix, rate, timeout
        self.records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counter = 0
        self._threads = [threading.Thread(target=self._run, args=(hashes[i % len(hashes)],),
                                          daemon=True) for i in range(threads)]

    def _next_key(self):
        with self._lock:
            self._counter += 1
            return "%s%d" % (self.prefix, self._counter)

    def _run(self, info_hash):
        interval = len(self._threads) / self.rate if self.rate else 0.0
        due = time.monotonic()
        while not self._stop.is_set():
            key = self._next_key()
            sent = time.monotonic()
            answer = http_get(announce_target(info_hash, key), timeout=self.timeout)
            record = Record(key, sent, time.monotonic(), answer)
            with self._lock:
                self.records.append(record)
            if interval:
                due += interval
                pause = due - time.monotonic()
                if pause > 0:
                    self._stop.wait(pause)
                else:
                    due = time.monotonic()

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def stop_sending(self):
        """No new requests from now on; the ones in flight go on (stop() waits for them)."""
        self._stop.set()

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return sorted(self.records, key=lambda r: r.sent)


def worker_connections(exclude_ids=()):
    """Connections to the tracker's database other than this query's own and `exclude_ids`:
    the workers' (tests/run's workers connect as root over the socket, like the test client,
    so the ids tell them apart)."""
    excluded = ",".join(str(int(i)) for i in exclude_ids) or "0"
    return int(mariadb("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = "
                       "DATABASE() AND ID <> CONNECTION_ID() AND ID NOT IN (%s) AND "
                       "COMMAND <> 'Daemon'" % excluded).strip())


def lost_keys(info_hash, records):
    """Keys answered as accepted whose peer row is missing (`info_hash`: one or a list; the
    keys are unique across them)."""
    hashes = info_hash if isinstance(info_hash, list) else [info_hash]
    accepted = {r.key for r in records if r.accepted}
    if not accepted:
        return set()
    rows = set(mariadb("SELECT uid FROM peers p JOIN torrents t USING (tid) WHERE t.infohash "
                       "IN (%s)" % ",".join("UNHEX('%s')" % h.hex() for h in hashes)).split())
    return accepted - rows


class LockSession:
    """A mariadb client session of its own (to hold locks while the workers run into them):
    run(sql) sends statements and returns their output lines."""

    def __init__(self):
        self.process = subprocess.Popen(
            ["mariadb", "--no-defaults", "-uroot", "-S", os.environ["TRACKER_TEST_DB_SOCKET"],
             "-N", "-B", "--unbuffered", os.environ["TRACKER_TEST_DB_NAME"]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
        self._pending = b""
        self.id = int(self.run("SELECT CONNECTION_ID();")[0])

    def run(self, sql, timeout=10.0):
        """Sends `sql`, waits until it has run, returns the output lines it produced."""
        import select
        marker = b"--done-%d--" % time.monotonic_ns()
        self.process.stdin.write(b"%s SELECT '%s';\n" % (sql.encode(), marker))
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while marker + b"\n" not in self._pending:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError("mariadb session: no answer to %r after %.0fs" % (sql,
                                                                                        timeout))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("mariadb session ended: %r" % self._pending)
            self._pending += chunk
        out, _, self._pending = self._pending.partition(marker + b"\n")
        return out.decode(errors="replace").splitlines()

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write(b"ROLLBACK; UNLOCK TABLES;\n")
                self.process.stdin.close()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


def mariadb_kill():
    """SIGKILL the private MariaDB (a crash, no clean shutdown): its pid from the pid file,
    checked against its command line first, as services.sh does. Returns once it is gone."""
    import signal
    datadir = os.path.join(state_dir(), "mysql")
    with open(os.path.join(state_dir(), "mysqld.pid")) as f:
        pid = int(f.read().strip())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        args = f.read().split(b"\0")
    if ("--datadir=" + datadir).encode() not in args:
        raise AssertionError("pid %d is not our MariaDB: %r" % (pid, args))
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError("MariaDB (pid %d) survived SIGKILL" % pid)
        time.sleep(0.05)


def database_digest(excluded_tids=()):
    """What the tracker's database holds, as comparable text: its tables, columns, triggers,
    and every row of every table (a count and a checksum per table), leaving out the rows of
    the torrents `excluded_tids` in tables with a `tid` column. Independent of the schema's
    version: the columns are read from information_schema."""
    tids = ",".join(str(int(t)) for t in excluded_tids) or "0"
    parts = [mariadb("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                     "WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, ORDINAL_POSITION"),
             mariadb("SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
                     "WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1"),
             mariadb("SHOW DATABASES")]
    for table in mariadb("SHOW TABLES").split():
        if table == "tracker_sequence":  # a counter every flush moves, like a clock: no state
            continue
        columns = mariadb("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                          "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '%s' ORDER BY "
                          "ORDINAL_POSITION" % table).split()
        row = "CONCAT_WS('|', %s)" % ", ".join("COALESCE(HEX(`%s`), 'NULL')" % c for c in columns)
        where = " WHERE tid NOT IN (%s)" % tids if "tid" in columns else ""
        parts.append(table + ": " + mariadb("SELECT COUNT(*), COALESCE(SUM(CRC32(%s)), 0) FROM "
                                            "`%s`%s" % (row, table, where)))
    return "".join(parts)
