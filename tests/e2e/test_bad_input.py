"""End to end: thousands of generated bad requests through nginx -> tracker-fcgi -> MariaDB
(issue 6, item 2), and the SQL-injection check of item 5 (quotes, backslashes, NUL and `;--`
in every string field come back byte for byte and change nothing else).

Every answer must be either HTTP 200 with a bencoded dict whose only key is `failure reason`,
or a clean 4xx from nginx or the worker: never a 5xx, a timeout, a reset or a half answer.
Requests that the tracker may legitimately accept (a capped numwant, an ignored `ip`, an
odd but well-formed key, random mutations of a good announce) go to a separate torrent and
may also get a normal announce or scrape answer. The generator is seeded: the same requests
every run. tests/run starts the stack and sets TRACKER_TEST_*."""

import concurrent.futures
import os
import random
import unittest

from robust_helpers import (announce_accepted, database_digest, failure_reason,
                            have_stack_control, http_get, is_clean_4xx, peer_rows, process_alive,
                            raw_exchange, request_bytes, stats, torrent_id, worker_log_tail,
                            worker_pid)
from trackerclient import bdecode, encode_all, encode_libtorrent, mariadb, register, settle

SEED = 20240611
REQUEST_TIMEOUT = 10.0  # seconds: an answer slower than this counts as a hang
PARALLEL = 8

# Must be refused (failure reason or 4xx), and must write nothing.
REFUSE = "refuse"
# May be accepted too (numwant capped, ip ignored, odd key, mutations): never a 5xx.
ANY = "any"
# A HEAD of a refused query: 200 without a body, or a 4xx; writes nothing.
HEAD = "head"

NASTY = [b"'", b'"', b"\\", b"\x00", b";--", b"%00", b"' OR '1'='1", b"\\'", b"`", b"\r\n",
         b"\xff\xfe", b"%", b"&", b"="]


def pct(data: bytes) -> bytes:
    return encode_all(data).encode()


def lt(data: bytes) -> bytes:
    return encode_libtorrent(data).encode()


class Generator:
    """The bad requests, as (label, (REFUSE | ANY | HEAD, the part of the failure reason
    expected or None), raw HTTP request bytes)."""

    def __init__(self, seed, bad_hash, mut_hash, unregistered_hash, banned_hash):
        self.rng = random.Random(seed)
        self.bad = bad_hash
        self.mut = mut_hash
        self.unregistered = unregistered_hash
        self.banned = banned_hash
        self.out = []
        self.serial = 0

    # ---- building blocks

    def key(self, prefix="b"):
        self.serial += 1
        return ("%s%d" % (prefix, self.serial)).encode()

    def peer_id(self):
        return bytes(self.rng.randrange(256) for _ in range(20))

    def fields(self, torrent, **override):
        """A well-formed announce as an ordered list of (name, encoded value) bytes pairs."""
        enc = self.rng.choice([pct, lt])
        fields = [(b"info_hash", enc(torrent)), (b"peer_id", enc(self.peer_id())),
                  (b"port", b"6881"), (b"uploaded", b"0"), (b"downloaded", b"0"),
                  (b"left", b"100"), (b"key", self.key())]
        if self.rng.random() < 0.5:
            fields += [(b"compact", b"1"), (b"numwant", b"50")]
        if self.rng.random() < 0.3:
            fields.append((b"event", b"started"))
        names = [name for name, _ in fields]
        for name, value in override.items():
            name = name.encode()
            if value is None:
                fields = [(n, v) for n, v in fields if n != name]
            elif name in names:
                fields = [(n, value if n == name else v) for n, v in fields]
            else:
                fields.append((name, value))
        if self.rng.random() < 0.3:
            self.rng.shuffle(fields)
        return fields

    @staticmethod
    def join(fields):
        return b"&".join(n + b"=" + v for n, v in fields)

    def add(self, label, expect, target, method=b"GET", body=None, user_agent=None,
            extra_headers=b"", why=None):
        """`why`: a part of the failure reason expected when the worker answers (so that a
        request refused for some other reason than the one it was made for shows up)."""
        kwargs = {"extra_headers": extra_headers}
        if user_agent is not None:
            kwargs["user_agent"] = user_agent
        self.out.append((label, (expect, why),
                         request_bytes(method, target, body, **kwargs)))

    def announce(self, label, expect, query: bytes, path=None, why=None):
        path = path or self.rng.choice([b"/announce", b"/announce", b"/announce.php"])
        self.add(label, expect, path + b"?" + query, why=why)

    def scrape(self, label, expect, query: bytes):
        path = self.rng.choice([b"/scrape", b"/scrape.php"])
        self.add(label, expect, path + (b"?" + query if query is not None else b""))

    def random_bytes(self, n, raw_ok=False):
        if raw_ok:
            # What a request line can carry raw: visible ASCII and high bytes; no space, CR, LF.
            alphabet = bytes(range(0x21, 0x7f)) + bytes(range(0x80, 0x100)) + b"&&&===%%%"
            return bytes(self.rng.choice(alphabet) for _ in range(n))
        return bytes(self.rng.randrange(256) for _ in range(n))

    # ---- the categories

    def missing_fields(self):
        for name in [b"info_hash", b"peer_id", b"port", b"uploaded", b"downloaded", b"left"]:
            for _ in range(20):
                self.announce("missing " + name.decode(), REFUSE,
                              self.join(self.fields(self.bad, **{name.decode(): None})),
                              why="missing field \"%s\"" % name.decode())
            # Present as a bare name, or with an empty value.
            if name not in (b"info_hash", b"peer_id"):
                fields = [(n, v) for n, v in self.fields(self.bad) if n != name]
                self.announce("bare " + name.decode(), REFUSE,
                              self.join(fields) + b"&" + name)
                self.announce("empty " + name.decode(), REFUSE,
                              self.join(self.fields(self.bad, **{name.decode(): b""})))
        for _ in range(20):
            dropped = self.rng.sample(range(6), self.rng.randint(2, 6))
            names = [b"info_hash", b"peer_id", b"port", b"uploaded", b"downloaded", b"left"]
            override = {names[i].decode(): None for i in dropped}
            self.announce("several missing", REFUSE, self.join(self.fields(self.bad, **override)))

    def wrong_lengths(self):
        for n in [0, 1, 10, 19, 21, 39, 40, 41, 60, 100, 1000]:
            for _ in range(4):
                value = self.bad[:n] if n <= 20 else self.bad + self.random_bytes(n - 20)
                if n == 40 and self.rng.random() < 0.5:
                    value = self.bad.hex().encode()
                enc = self.rng.choice([pct, lt])
                self.announce("info_hash of %d bytes" % n, REFUSE,
                              self.join(self.fields(self.bad, info_hash=enc(value))),
                              why="#2: info_hash is %d bytes" % len(value))
                pid = self.random_bytes(n)
                self.announce("peer_id of %d bytes" % n, REFUSE,
                              self.join(self.fields(self.bad, peer_id=enc(pid))),
                              why="#3: peer_id is %d bytes" % n)
        # Scrape: every wrong length, and one bad among good hashes.
        for n in [0, 1, 19, 21, 40, 100]:
            value = self.random_bytes(n)
            self.scrape("scrape info_hash of %d bytes" % n, REFUSE, b"info_hash=" + pct(value))
            self.scrape("scrape good+bad", REFUSE,
                        b"info_hash=" + pct(self.mut) + b"&info_hash=" + pct(value))

    def bad_numbers(self):
        junk = [b"-1", b"-5", b"1e9", b"ten", b"9" * 30, b"18446744073709551616", b"%20" + b"1",
                b"1%20", b"+1", b"0x10", b"1.5", b"%00", b"1%00", b"NaN", b"inf",
                b"%E2%88%9E", b"%EF%BC%91", b"1,000", b"--1", b"0-", b"%2D1", b"1e", b"e1",
                b"99999999999999999999999999999999999999999999", b"%", b"%4", b"%zz"]
        for field in [b"uploaded", b"downloaded", b"left"]:
            for value in junk:
                self.announce("%s=%s" % (field.decode(), value.decode()), REFUSE,
                              self.join(self.fields(self.bad, **{field.decode(): value})),
                              why=field.decode())
        for value in [b"0", b"65536", b"-1", b"abc", b"70000", b"99999999999999999999",
                      b"6881abc", b"%206881", b"+6881", b"0x1AE1", b"6881.0", b"%00",
                      b"6881%00", b"", b"%", b"%4", b"%zz", b"4294967297"]:
            self.announce("port=" + value.decode(), REFUSE,
                          self.join(self.fields(self.bad, port=value)), why=" port")
            # cryptoport, when sent, is the port handed out: a bad one refuses the announce.
            self.announce("cryptoport=" + value.decode(), REFUSE,
                          self.join(self.fields(self.bad, cryptoport=value)), why="cryptoport")
        for value in [b"-1", b"abc", b"1e3", b"9" * 30, b"%zz", b"%", b"1.5", b""]:
            self.announce("numwant=" + value.decode(), REFUSE,
                          self.join(self.fields(self.bad, numwant=value)), why="numwant")
        # Huge but valid numwant: capped at numwantMax, so the announce may be accepted.
        for value in [b"18446744073709551615", b"4294967296", b"1000000", b"201"]:
            answer_label = "numwant=%s (capped)" % value.decode()
            self.announce(answer_label, ANY, self.join(self.fields(self.mut, numwant=value)))

    def bad_events(self):
        for value in [b"STARTED", b"started%20", b"start", b"%00started", b"started%00",
                      b"complete", b"stop", b"finished", b"0", b"1", b"%zz", b"%", b"%4",
                      b"started,stopped", b"%22%27%5C", b"';--"]:
            self.announce("event=" + value.decode("latin-1"), REFUSE,
                          self.join(self.fields(self.bad, event=value)), why="event")
        for _ in range(30):
            value = pct(self.random_bytes(self.rng.randint(1, 40)))
            self.announce("event=<random>", REFUSE, self.join(self.fields(self.bad, event=value)),
                          why="unknown event")

    def truncated_escapes(self):
        escapes = [b"%", b"%4", b"%zz", b"%%", b"%g0", b"%0g", b"%%41", b"abc%", b"abc%4",
                   b"%4%41", b"%-1", b"% 1"[:2]]
        checked = [b"info_hash", b"peer_id", b"port", b"uploaded", b"downloaded", b"left",
                   b"event", b"numwant", b"key"]
        for name in checked:
            for esc in escapes:
                value = esc
                if name in (b"info_hash", b"peer_id"):
                    # 20 bytes once decoded, but for the bad escape.
                    value = pct((self.bad if name == b"info_hash" else self.peer_id())[:18]) + esc
                self.announce("escape %s in %s" % (esc.decode(), name.decode()), REFUSE,
                              self.join(self.fields(self.bad, **{name.decode(): value})),
                              why="malformed percent-escape in " + name.decode())
        # A bad escape in a name or in a field the tracker ignores: may be accepted.
        for esc in escapes:
            fields = self.fields(self.mut)
            self.announce("escape in a name", ANY, self.join(fields) + b"&" + esc + b"=1")
            self.announce("escape in ignored field", ANY,
                          self.join(fields) + b"&trackerid=" + esc)
            self.announce("escape in compact", ANY, self.join(self.fields(self.mut,
                                                                          compact=esc)))
        for esc in escapes:
            self.scrape("scrape escape", REFUSE, b"info_hash=" + pct(self.mut[:19]) + esc)

    def garbage(self, count):
        for i in range(count):
            raw = self.rng.random() < 0.5
            data = self.random_bytes(self.rng.randint(0, 300), raw_ok=raw)
            query = data if raw else pct(data)
            if self.rng.random() < 0.3:
                # Garbage that looks like fields.
                parts = []
                for _ in range(self.rng.randint(1, 12)):
                    name = self.rng.choice([b"info_hash", b"peer_id", b"port", b"left", b"key",
                                            b"event", b"numwant", b"ip", b"uploaded",
                                            self.random_bytes(5, raw_ok=True)])
                    parts.append(name + b"=" + self.random_bytes(self.rng.randint(0, 30),
                                                                 raw_ok=True))
                query = b"&".join(parts)
            self.announce("garbage %s #%d" % ("raw" if raw else "encoded", i), REFUSE, query)
            if i % 4 == 0:
                # Scrape garbage without an info_hash is a full scrape: fine.
                self.scrape("scrape garbage #%d" % i, ANY, query)

    def control_bytes(self):
        # Not allowed raw in a request line: nginx answers 400 (a clean 4xx).
        for byte in list(range(0x00, 0x20)) + [0x7f]:
            if byte in (0x0a, 0x0d):
                continue
            self.announce("raw control byte %02x" % byte, REFUSE,
                          self.join(self.fields(self.bad)) + b"&key=" + bytes([byte]))
        self.announce("raw space", REFUSE, b"info_hash=a b")

    def huge(self):
        for size in [1000, 4000, 7000, 8200, 9000, 16 * 1024, 17 * 1024, 32 * 1024, 64 * 1024,
                     64 * 1024 + 1, 100 * 1024]:
            for kind in ["filler", "key", "info_hash", "many"]:
                if kind == "filler":
                    query = self.join(self.fields(self.bad, port=b"0")) + b"&x=" + b"a" * size
                elif kind == "key":
                    query = self.join(self.fields(self.bad, left=b"ten", key=b"k" * size))
                elif kind == "info_hash":
                    query = self.join(self.fields(self.bad, info_hash=b"%41" * (size // 3)))
                else:
                    query = b"&".join([b"info_hash=" + pct(self.bad[:19])] * (size // 64 + 1))
                self.announce("huge %s, %d bytes" % (kind, size), REFUSE, query)
            self.scrape("scrape of %d bytes" % size, REFUSE,
                        b"&".join(b"info_hash=" + pct(self.random_bytes(20))
                                  for _ in range(size // 63 + 1)))
        # Many params, many empty segments, a very long name.
        self.announce("10000 empty segments", REFUSE, b"&" * 7000)
        self.announce("1000 params", REFUSE, b"&".join([b"a=b"] * 1000))
        self.announce("long name", REFUSE, b"n" * 7000 + b"=1")
        # A valid announce with a long odd key (hashed into a uid): may be accepted.
        self.announce("key of 6000 bytes", ANY, self.join(self.fields(self.mut, key=b"k" * 6000)))
        # More info hashes than a scrape takes (maxScrapeHashes 64).
        hashes = b"&".join(b"info_hash=" + pct(self.random_bytes(20)) for _ in range(65))
        self.scrape("scrape of 65 hashes", REFUSE, hashes)
        self.scrape("scrape of 100 hashes", REFUSE, hashes + b"&" + b"&".join(
            b"info_hash=" + pct(self.random_bytes(20)) for _ in range(35)))

    def repeated(self):
        for _ in range(10):
            good = self.join(self.fields(self.bad))
            # The first of repeated keys counts: a bad first value refuses.
            self.announce("repeated info_hash, bad first", REFUSE,
                          b"info_hash=" + pct(self.bad[:5]) + b"&" + good)
            self.announce("repeated port, bad first", REFUSE, b"port=0&" + good)
            self.announce("repeated left, bad first", REFUSE, b"left=ten&" + good)
            self.announce("repeated event, bad first", REFUSE, b"event=bogus&" + good)
            # A good first value: may be accepted.
            mut = self.join(self.fields(self.mut))
            self.announce("repeated port, good first", ANY, mut + b"&port=0&port=abc")
            self.announce("every field twice", ANY, mut + b"&" + mut)
        self.scrape("scrape same hash 100 times", ANY, b"&".join([b"info_hash=" +
                                                                  pct(self.mut)] * 100))

    def empty(self):
        for path in [b"/announce", b"/announce.php"]:
            for suffix in [b"", b"?", b"?&", b"?&&&&", b"?=", b"?==", b"?&=&", b"?info_hash",
                           b"?info_hash=", b"?%", b"?%3", b"?#", b"??", b"?;"]:
                self.add("empty query %r" % suffix, REFUSE, path + suffix)
        for suffix in [b"", b"?", b"?&&", b"?=", b"?info_hash", b"?info_hash="]:
            expect = ANY if suffix in (b"", b"?", b"?&&", b"?=") else REFUSE
            self.add("scrape empty %r" % suffix, expect, b"/scrape" + suffix)

    def methods(self):
        for method in [b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"CONNECT",
                       b"PROPFIND", b"FOO", b"get"]:
            for path in [b"/announce", b"/scrape", b"/announce.php"]:
                # A perfectly good announce, by the wrong method: refused, nothing written.
                query = self.join(self.fields(self.bad))
                target = path + b"?" + query
                if method == b"CONNECT":
                    target = b"127.0.0.1:80"
                self.add("%s %s" % (method.decode(), path.decode()), REFUSE, target,
                         method=method)
                if method in (b"POST", b"PUT", b"PATCH"):
                    self.add("%s with body" % method.decode(), REFUSE, path, method=method,
                             body=query)
                    self.add("%s with query and body" % method.decode(), REFUSE, target,
                             method=method, body=query)
        for _ in range(10):
            self.add("HEAD of a refused announce", HEAD,
                     b"/announce?" + self.join(self.fields(self.bad, left=b"ten")),
                     method=b"HEAD")

    def ip_and_keys(self):
        garbage_ips = [b"", b"999.999.999.999", b"1.2.3", b"localhost", b"%00", b"::::",
                       b"1.2.3.4%00", b"'%3B--", b"%27%22%5C", b"8.8.8.8%20OR%201%3D1",
                       b"[::1]", b"fe80::1%25eth0", b"10.0.0.1", b"0.0.0.0",
                       b"255.255.255.255", b"%zz", b"%"]
        for ip in garbage_ips:
            # `ip` is ignored unless allowIpParam (off by default): the announce may pass.
            self.announce("ip=" + ip.decode(), ANY, self.join(self.fields(self.mut, ip=ip)))
            self.announce("ip=%s with bad port" % ip.decode(), REFUSE,
                          self.join(self.fields(self.bad, ip=ip, port=b"0")))
        for nasty in NASTY:
            key = pct(nasty + b"k" + nasty)
            self.announce("key with %r" % nasty, ANY, self.join(self.fields(self.mut, key=key)))
            self.announce("key with %r, bad left" % nasty, REFUSE,
                          self.join(self.fields(self.bad, key=key, left=b"-5")))
            self.announce("raw key with %r, bad left" % nasty, REFUSE,
                          self.join(self.fields(self.bad, key=nasty.replace(b"\x00", b"")
                                                .replace(b"\r\n", b"") + b"k", left=b"ten")))
            self.announce("peer_id of %r, bad port" % nasty, REFUSE,
                          self.join(self.fields(self.bad, peer_id=pct((nasty * 20)[:20]),
                                                port=b"-1")))

    def registration(self):
        for _ in range(10):
            self.announce("unregistered", REFUSE, self.join(self.fields(self.unregistered)),
                          why="#5")
            self.announce("banned", REFUSE, self.join(self.fields(self.banned)), why="#6")
        self.scrape("scrape unregistered", REFUSE, b"info_hash=" + pct(self.unregistered))

    def paths_and_agents(self):
        query = self.join(self.fields(self.bad))
        for path in [b"/announce/", b"/announce.php/x", b"/Announce", b"/announce%00",
                     b"/announce;x", b"/../announce", b"/backend/announce", b"/announce%2F",
                     b"/scrape/", b"/stats/"]:
            # nginx serves exact locations only; anything else is its own 404 (or 400).
            self.add("path %r" % path, REFUSE, path + b"?" + query)
        for path in [b"/%61nnounce", b"//announce", b"/./announce", b"/x/../announce"]:
            # nginx normalises these to /announce before matching: a real announce.
            self.add("path %r" % path, ANY, path + b"?" + self.join(self.fields(self.mut)))
        for agent in [b"Mozilla/5.0", b"Opera/9.80", b"Lynx/2.8", b"Links (2.2)"]:
            self.add("browser %r" % agent, REFUSE, b"/announce?" + query, user_agent=agent)
        # HTTP/1.0 without Host, and a header nginx refuses.
        self.out.append(("HTTP/1.0 without Host", (REFUSE, None),
                         b"GET /announce?" + self.join(self.fields(self.bad, port=b"0")) +
                         b" HTTP/1.0\r\nUser-Agent: t/1\r\n\r\n"))
        self.out.append(("two Host headers", (REFUSE, None),
                         b"GET /announce?" + query + b" HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
                         b"Connection: close\r\n\r\n"))

    def mutations(self, count):
        """Random damage to a good announce of the `mut` torrent: anything may come back but a
        5xx, a hang or a reset."""
        for i in range(count):
            query = bytearray(self.join(self.fields(self.mut)))
            for _ in range(self.rng.randint(1, 6)):
                op = self.rng.randrange(6)
                pos = self.rng.randrange(len(query) + 1)
                if op == 0 and query:
                    del query[min(pos, len(query) - 1)]
                elif op == 1:
                    query[pos:pos] = self.rng.choice([b"%", b"&", b"=", b"%2", b"%zz", b"%00",
                                                      b"'", b"\\", b"%27", b"%5C", b";--"])
                elif op == 2:
                    query[pos:pos] = self.random_bytes(self.rng.randint(1, 8), raw_ok=True)
                elif op == 3:
                    query = query[:pos]
                elif op == 4:
                    segments = bytes(query).split(b"&")
                    self.rng.shuffle(segments)
                    segments.append(self.rng.choice(segments))
                    query = bytearray(b"&".join(segments))
                else:
                    query[pos:pos] = b"&" + self.rng.choice(
                        [b"numwant", b"event", b"port", b"left", b"compact", b"no_peer_id",
                         b"supportcrypto", b"requirecrypto", b"ip", b"key"]) + b"=" + \
                        self.random_bytes(self.rng.randint(0, 6), raw_ok=True)
            self.announce("mutation #%d" % i, ANY, bytes(query))

    def all(self):
        self.missing_fields()
        self.wrong_lengths()
        self.bad_numbers()
        self.bad_events()
        self.truncated_escapes()
        self.garbage(1500)
        self.control_bytes()
        self.huge()
        self.repeated()
        self.empty()
        self.methods()
        self.ip_and_keys()
        self.registration()
        self.paths_and_agents()
        self.mutations(1200)
        return self.out


def verdict(expectation, answer):
    """None when the answer is acceptable for the expectation, else why not."""
    expect, why = expectation
    if answer.error:
        return "no clean answer: " + answer.error
    if answer.status >= 500:
        return "HTTP %d" % answer.status
    if is_clean_4xx(answer):
        return None
    if expect == HEAD:
        return None if answer.status == 200 and answer.body == b"" else \
            "HEAD answered %d with %d bytes" % (answer.status, len(answer.body))
    if answer.status != 200:
        return "HTTP %d (neither 200 nor 4xx)" % answer.status
    reason = failure_reason(answer)
    if reason is not None:
        if "internal error" in reason:
            return "the handler threw (failure reason %r): see the worker log" % reason
        try:
            answer.body.decode("utf-8")
        except UnicodeDecodeError:
            return "failure reason is not UTF-8: %r" % answer.body[:200]
        if why is not None and why not in reason:
            return "refused, but not for the reason tested (%r expected): %r" % (why, reason)
        return None
    if expect == REFUSE:
        return "accepted a request that must be refused: %r" % answer.body[:200]
    if announce_accepted(answer) is not None:
        return None
    try:
        decoded = bdecode(answer.body)
    except (ValueError, IndexError, AssertionError) as error:
        return "HTTP 200 that is not bencode (%s): %r" % (error, answer.body[:200])
    if isinstance(decoded, dict) and isinstance(decoded.get(b"files"), dict):
        return None  # a scrape answer
    return "HTTP 200 that is neither a failure nor an answer: %r" % answer.body[:200]


class BadInputTest(unittest.TestCase):
    """Several thousand bad requests; then the workers still serve, and nothing was written."""

    def test_bad_requests_get_a_failure_reason_or_a_clean_4xx_and_write_nothing(self):
        bad, mut, banned = os.urandom(20), os.urandom(20), os.urandom(20)
        register(bad, "bad input: refused")
        register(mut, "bad input: mutations")
        register(banned, "bad input: banned", banned=True)
        pid = worker_pid() if have_stack_control() else None
        # Everything but the rows of the torrent that may accept some requests.
        before = database_digest([torrent_id(mut)])

        requests = Generator(SEED, bad, mut, os.urandom(20), banned).all()
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            answers = list(pool.map(lambda r: raw_exchange(r[2], timeout=REQUEST_TIMEOUT),
                                    requests))

        problems, tally = [], {}
        accepted_mut = 0
        for (label, expect, raw), answer in zip(requests, answers):
            why = verdict(expect, answer)
            if why:
                problems.append("%s [%s]: %s\n    request: %r" % (label, expect, why, raw[:300]))
            kind = ("accepted" if announce_accepted(answer) is not None else
                    "failure reason" if failure_reason(answer) is not None else
                    "HEAD 200" if answer.status == 200 and not answer.body else
                    "scrape answer" if answer.status == 200 else
                    "HTTP %s" % answer.status)
            tally[kind] = tally.get(kind, 0) + 1
            if expect[0] == ANY and announce_accepted(answer) is not None:
                accepted_mut += 1
        slowest = max(answers, key=lambda a: a.seconds)
        print("\nbad input: %d requests tried (seed %d): %s; slowest %.3fs (%r)" % (
            len(requests), SEED, ", ".join("%s %d" % kv for kv in sorted(tally.items())),
            slowest.seconds, slowest.body[:60]))
        self.assertGreater(len(requests), 3000)
        self.assertEqual(len(problems), 0, "%d of %d answers were not clean:\n%s\nworker "
                         "log:\n%s" % (len(problems), len(requests), "\n".join(problems[:40]),
                                       worker_log_tail()))

        # The workers still serve, and were not restarted or crashed on the way.
        good = os.urandom(20)
        register(good, "bad input: afterwards")
        answer = http_get("/announce?info_hash=%s&peer_id=%s&port=6881&uploaded=0&downloaded=0"
                          "&left=0&key=after" % (encode_all(good), encode_all(os.urandom(20))))
        self.assertIsNotNone(announce_accepted(answer), answer)
        settle()
        self.assertEqual(peer_rows(good), 1)
        if pid is not None:
            self.assertTrue(process_alive(pid), "tracker-fcgi (pid %d) is gone:\n%s"
                            % (pid, worker_log_tail()))
            self.assertEqual(worker_pid(), pid)

        # Nothing written for a refused request: no peer row for the refused torrent, its
        # counters at zero, nothing else in the database changed (no torrent created, no other
        # swarm touched); the mutations wrote at most one row per accepted answer.
        self.assertEqual(peer_rows(bad), 0)
        scraped = bdecode(http_get("/scrape?info_hash=" + encode_all(bad)).body)
        self.assertEqual(scraped[b"files"][bad], {b"complete": 0, b"downloaded": 0,
                                                  b"incomplete": 0,
                                                  b"name": b"bad input: refused"})
        self.assertEqual(database_digest([torrent_id(mut), torrent_id(good)]), before)
        self.assertLessEqual(peer_rows(mut), accepted_mut)
        self.assertIsInstance(stats()["requests"]["announce"], int)


# The byte strings an injection would use. Every string field gets them.
INJECTION = b"'\"\\\x00;--%00"  # 10 bytes: quote, double quote, backslash, NUL, ;--, %00


class InjectionTest(unittest.TestCase):
    """Prepared statements everywhere: quotes, backslashes, NUL and `;--` in every string field
    are stored and returned byte for byte, and nothing else in the database changes."""

    def test_quotes_backslashes_and_nul_in_every_string_field(self):
        # A torrent whose hash and name hold the injection bytes, inserted with proper escaping
        # (hex literals), and a plain one beside it.
        sneaky_hash = (INJECTION + b"\x00" * 20)[:20]
        mariadb("DELETE FROM torrents WHERE infohash = UNHEX('%s')" % sneaky_hash.hex())
        name = b"name " + INJECTION + b" ' OR 1=1; DROP TABLE peers;-- \\\\ \"x\""
        mariadb("INSERT INTO torrents (infohash, name) VALUES (UNHEX('%s'), "
                "CONVERT(UNHEX('%s') USING utf8))" % (sneaky_hash.hex(), name.hex()))
        plain_hash = os.urandom(20)
        register(plain_hash, "injection neighbour")
        tids = [torrent_id(sneaky_hash), torrent_id(plain_hash)]
        # The name went in intact (else the test below proves nothing).
        self.assertEqual(mariadb("SELECT HEX(name) FROM torrents WHERE tid = %d" % tids[0])
                         .strip(), name.hex().upper())
        before = database_digest(tids)

        peer_id = (INJECTION * 2)[:20]
        extra = "&".join("%s=%s" % (field, encode_all(INJECTION)) for field in
                         ["ip", "trackerid", "passkey", "corrupt", "supportcrypto",
                          "no_peer_id", "compact", encode_all(INJECTION)])
        keys = {"sneaky": encode_all(INJECTION), "nul": "a%00b", "quote": "%27", "bs": "%5C%5C"}
        for n, (label, key) in enumerate(sorted(keys.items())):
            for info_hash in (sneaky_hash, plain_hash):
                target = ("/announce?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0"
                          "&left=%d&key=%s&%s&compact=0" % (
                              encode_all(info_hash), encode_all(peer_id), 7000 + n, n, key,
                              extra))
                answer = http_get(target)
                self.assertIsNotNone(announce_accepted(answer), "%s: %r" % (label, answer))
                # libtorrent-style encoding of the same request: the same peer.
                target = target.replace(encode_all(peer_id), encode_libtorrent(peer_id), 1)
                self.assertIsNotNone(announce_accepted(http_get(target)), label)

        settle()
        for tid in tids:
            rows = mariadb("SELECT HEX(peerId), ip, port, HEX(uid) FROM peers WHERE tid = %d "
                           "ORDER BY port" % tid).splitlines()
            # One row per key (the second, differently encoded announce updated it), every
            # peerId byte for byte, the `ip` parameter ignored (allowIpParam is off).
            self.assertEqual(len(rows), len(keys), rows)
            uids = set()
            for n, row in enumerate(rows):
                hex_id, ip, port, uid = row.split("\t")
                self.assertEqual(bytes.fromhex(hex_id), peer_id)
                self.assertEqual((ip, port), ("127.0.0.1", str(7000 + n)))
                uid = bytes.fromhex(uid)
                # An odd key becomes a derived uid of 10 plain characters.
                self.assertEqual(len(uid), 10, uid)
                self.assertTrue(uid.startswith(b"!"), uid)
                uids.add(uid)
            self.assertEqual(len(uids), len(keys))

        # Another peer is handed the first peer's id byte for byte (dictionary model).
        answer = http_get("/announce?info_hash=%s&peer_id=%s&port=7100&uploaded=0&downloaded=0"
                          "&left=5&key=reader&compact=0&numwant=50" % (
                              encode_all(sneaky_hash), encode_all(os.urandom(20))))
        decoded = announce_accepted(answer)
        self.assertIsNotNone(decoded, answer)
        self.assertEqual({p[b"peer id"] for p in decoded[b"peers"]}, {peer_id})

        # Scrape: the hash and the name come back exactly.
        settle()  # the reader's own row
        answer = http_get("/scrape?info_hash=%s&info_hash=%s" % (encode_all(sneaky_hash),
                                                                 encode_all(plain_hash)))
        self.assertEqual(answer.status, 200, answer)
        files = bdecode(answer.body)[b"files"]
        self.assertEqual(sorted(files), sorted([sneaky_hash, plain_hash]))
        self.assertEqual(files[sneaky_hash][b"name"], name)
        # The peer with left=0 seeds; the others and the reader leech.
        self.assertEqual((files[sneaky_hash][b"complete"], files[sneaky_hash][b"incomplete"]),
                         (1, len(keys)))
        # The full scrape too (it may be cached up to fullScrapeCacheSeconds: the name is
        # older than that only if the cache was filled before this test; accept either).
        full = bdecode(http_get("/scrape").body)
        if sneaky_hash in full.get(b"files", {}):
            self.assertEqual(full[b"files"][sneaky_hash][b"name"], name)

        # A stopped event with the injection key removes exactly that peer.
        answer = http_get("/announce?info_hash=%s&peer_id=%s&port=7000&uploaded=0&downloaded=0"
                          "&left=0&key=%s&event=stopped" % (encode_all(sneaky_hash),
                                                            encode_all(peer_id), keys["bs"]))
        self.assertIsNotNone(announce_accepted(answer), answer)
        settle()
        self.assertEqual(peer_rows(sneaky_hash), len(keys))  # 4 + reader - 1

        # Nothing else in the database changed.
        self.assertEqual(database_digest(tids), before)


if __name__ == "__main__":
    unittest.main()
