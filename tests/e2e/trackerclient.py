"""A small BitTorrent tracker client for the end-to-end tests: bencode decoding, query
encoding the ways real clients do it, and registering torrents in the test database."""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request


def bdecode(data: bytes):
    """Decodes one bencoded value (strict enough for tests); returns the value."""

    def parse(i):
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c == b"l":
            i += 1
            items = []
            while data[i:i + 1] != b"e":
                item, i = parse(i)
                items.append(item)
            return items, i + 1
        if c == b"d":
            i += 1
            result = {}
            last = None
            while data[i:i + 1] != b"e":
                key, i = parse(i)
                assert last is None or key > last, "dict keys out of order: %r" % key
                last = key
                result[key], i = parse(i)
            return result, i + 1
        colon = data.index(b":", i)
        length = int(data[i:colon])
        start = colon + 1
        if start + length > len(data):
            raise ValueError("truncated string")
        return data[start:start + length], start + length

    value, end = parse(0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return value


def encode_all(raw: bytes) -> str:
    """Every byte as %XX, as many clients send info_hash."""
    return "".join("%%%02X" % b for b in raw)


UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def encode_libtorrent(raw: bytes) -> str:
    """Unreserved characters raw, the rest %xx, as libtorrent sends it."""
    return "".join(chr(b) if b in UNRESERVED else "%%%02x" % b for b in raw)


# The tracker answers from a read of the swarm up to swarmCacheMs old and writes an announce
# within peerFlushMs (750 + 250 ms by default): what one peer did shows to the others after
# their sum. tests/run sets this from the config it writes, with a margin.
SETTLE_SECONDS = float(os.environ.get("TRACKER_TEST_SETTLE_SECONDS", "1.3"))


def settle(tracker=None, timeout=120.0):
    """Waits until what was announced so far is in the database and every cached read older:
    the flush interval and cache lifetime, then (on our tracker) until the worker's write-behind
    is empty, however long a backlog takes."""
    time.sleep(SETTLE_SECONDS)
    tracker = tracker or Tracker()
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = tracker.get("/stats")
        if status != 200:
            return  # not our tracker (the PHP one behind Apache): the sleep is all there is
        writes = json.loads(body).get("peerWrites")
        if writes is None or writes["pending"] == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the worker's write-behind still holds %d writes after %.0f s: "
                                 "%r" % (writes["pending"], timeout, writes))
        time.sleep(0.1)


def query(params) -> str:
    """params: list of (key, value); bytes values are fully percent-encoded, str kept as is."""
    parts = []
    for key, value in params:
        if isinstance(value, bytes):
            value = encode_all(value)
        parts.append("%s=%s" % (key, value))
    return "&".join(parts)


class Tracker:
    def __init__(self, host=None, port=None):
        self.host = host or "127.0.0.1"
        self.port = int(port or os.environ["TRACKER_TEST_HTTP_PORT"])

    def base(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (host, self.port)

    def get(self, path, user_agent="test-client/1.0", method="GET"):
        """Returns (status, headers, body) without raising on HTTP errors."""
        request = urllib.request.Request(self.base() + path, method=method,
                                         headers={"User-Agent": user_agent})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def announce(self, params, path="/announce"):
        status, headers, body = self.get(path + "?" + query(params))
        assert status == 200, "HTTP %d: %r" % (status, body)
        return bdecode(body)

    def scrape(self, hashes, path="/scrape"):
        status, _, body = self.get(path + "?" + query([("info_hash", h) for h in hashes]))
        assert status == 200, "HTTP %d: %r" % (status, body)
        return bdecode(body)


def mariadb(sql: str) -> str:
    """Runs SQL in the test database with the mariadb client; returns its tab-separated output."""
    result = subprocess.run(
        ["mariadb", "--no-defaults", "-uroot", "-S", os.environ["TRACKER_TEST_DB_SOCKET"],
         "-N", "-B", os.environ["TRACKER_TEST_DB_NAME"], "-e", sql],
        check=True, capture_output=True)
    return result.stdout.decode()


def caught_up(tracker=None, timeout=10.0):
    """Waits until the worker behind `tracker` (default: the test nginx) has followed every
    change committed so far: a registration, a ban or a removal is what its next announce
    sees. Each worker's replica follows the database every replicaPullMs; its /stats says how
    far it has read. Returns at once for a worker without a replica."""
    committed = int(mariadb("SELECT value FROM tracker_sequence WHERE id = 1").strip())
    tracker = tracker or Tracker()
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = tracker.get("/stats")
        assert status == 200, "GET /stats: HTTP %d %r" % (status, body)
        replica = json.loads(body).get("replica")
        if replica is None or replica["sequence"] >= committed:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the worker's replica is at %d after %.0f s, the database at "
                                 "%d: %r" % (replica["sequence"], timeout, committed, replica))
        time.sleep(0.02)


def register(info_hash: bytes, name: str, banned=False, tracker=None):
    """Registers the torrent as a site's own pages would (an INSERT), then waits until the
    tracker serves it (see caught_up)."""
    mariadb("INSERT INTO torrents (infohash, name, banned) VALUES (UNHEX('%s'), '%s', %d)"
            % (info_hash.hex(), name, 1 if banned else 0))
    caught_up(tracker)


def compact_peers(blob: bytes, width=6):
    """[(ip text, port)] from a compact peers string (6 bytes) or peers6 (18 bytes)."""
    assert len(blob) % width == 0, "compact peers of %d bytes" % len(blob)
    family = socket.AF_INET if width == 6 else socket.AF_INET6
    out = []
    for i in range(0, len(blob), width):
        addr = socket.inet_ntop(family, blob[i:i + width - 2])
        port = int.from_bytes(blob[i + width - 2:i + width], "big")
        out.append((addr, port))
    return out


def has_ipv6_loopback(port):
    try:
        with socket.create_connection(("::1", port), timeout=2):
            return True
    except OSError:
        return False
