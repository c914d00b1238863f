"""End to end: BitTorrent announces and scrapes through a real nginx, speaking FastCGI to
tracker-fcgi, on a real MariaDB; tests/run starts all three and sets the environment."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from trackerclient import (Tracker, bdecode, compact_peers, encode_all, encode_libtorrent,
                           has_ipv6_loopback, mariadb, query, register, settle)

AWKWARD = bytes([0x00, ord("&"), ord("="), ord("+"), ord("%"), 0xFF, ord("A"), ord("z"),
                 ord("0"), ord("-"), ord("_"), ord("."), ord("~"), ord(" "), ord("?"), ord("#"),
                 0x80, 0x7F, ord("/"), 0x01])


def fresh_hash():
    return os.urandom(20)


def peer_params(info_hash, peer_id, port, left, key, **extra):
    params = [("info_hash", info_hash), ("peer_id", peer_id), ("port", str(port)),
              ("uploaded", "0"), ("downloaded", "0"), ("left", str(left)), ("key", key)]
    params += [(k, v) for k, v in extra.items()]
    return params


class AnnounceTest(unittest.TestCase):
    tracker = Tracker()

    def test_peers_find_each_other_and_seeders_get_leechers_only(self):
        info_hash = fresh_hash()
        register(info_hash, "swarm")
        peers = []  # (port, left, key)
        for n in range(5):
            left = 0 if n < 2 else 1000
            peers.append((7000 + n, left, "k%d" % n))
            self.tracker.announce(peer_params(info_hash, os.urandom(20), 7000 + n, left,
                                              "k%d" % n, event="started", compact="1"))
        settle()
        for port, left, key in peers:
            answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), port, left, key,
                                                       compact="1"))
            self.assertEqual(answer[b"complete"], 2)
            self.assertEqual(answer[b"incomplete"], 3)
            self.assertEqual(answer[b"interval"], 900)
            self.assertEqual(answer[b"min interval"], 300)
            self.assertEqual(answer[b"external ip"], bytes([127, 0, 0, 1]))
            got = sorted(p for _, p in compact_peers(answer[b"peers"]))
            if left == 0:
                expected = sorted(p for p, l, _ in peers if l > 0)
            else:
                expected = sorted(p for p, _, k in peers if k != key)
            self.assertEqual(got, expected, "peer on port %d" % port)

    def test_numwant_limits_the_peers_handed_out(self):
        info_hash = fresh_hash()
        register(info_hash, "numwant")
        for n in range(12):
            self.tracker.announce(peer_params(info_hash, os.urandom(20), 8000 + n, 5, "n%d" % n))
        settle()
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 8100, 5, "asker",
                                                   numwant="3"))
        self.assertEqual(len(compact_peers(answer[b"peers"])), 3)
        settle()  # the asker's own announce is counted from here on
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 8100, 5, "asker",
                                                   numwant="0"))
        self.assertEqual(answer[b"peers"], b"")
        self.assertEqual(answer[b"incomplete"], 13)

    def test_dictionary_peers_with_and_without_peer_id(self):
        info_hash = fresh_hash()
        register(info_hash, "dict")
        first_id = bytes(range(20))
        self.tracker.announce(peer_params(info_hash, first_id, 9001, 10, "d1"))
        settle()
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9002, 10, "d2",
                                                   compact="0"))
        self.assertEqual(answer[b"peers"],
                         [{b"ip": b"127.0.0.1", b"peer id": first_id, b"port": 9001}])
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9002, 10, "d2",
                                                   compact="0", no_peer_id="1"))
        self.assertEqual(answer[b"peers"], [{b"ip": b"127.0.0.1", b"port": 9001}])

    def test_completed_counts_a_download_and_stopped_leaves(self):
        info_hash = fresh_hash()
        register(info_hash, "lifecycle")
        self.tracker.announce(peer_params(info_hash, os.urandom(20), 9100, 50, "c1",
                                          event="started"))
        settle()
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9100, 0, "c1",
                                                   event="completed"))
        # The answer counts this announce: a seeder now, and its download.
        self.assertEqual((answer[b"complete"], answer[b"incomplete"], answer[b"downloaded"]),
                         (1, 0, 1))
        settle()
        scraped = self.tracker.scrape([info_hash])[b"files"][info_hash]
        self.assertEqual(scraped, {b"complete": 1, b"downloaded": 1, b"incomplete": 0,
                                   b"name": b"lifecycle"})
        # A completed sent again is not a second download.
        self.tracker.announce(peer_params(info_hash, os.urandom(20), 9100, 0, "c1",
                                          event="completed"))
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9100, 0, "c1",
                                                   event="stopped"))
        self.assertEqual(answer[b"peers"], b"")
        settle()
        scraped = self.tracker.scrape([info_hash])[b"files"][info_hash]
        self.assertEqual(scraped, {b"complete": 0, b"downloaded": 1, b"incomplete": 0,
                                   b"name": b"lifecycle"})

    def test_hash_with_awkward_bytes_fully_encoded_and_libtorrent_style(self):
        mariadb("DELETE FROM torrents WHERE infohash = UNHEX('%s')" % AWKWARD.hex())
        register(AWKWARD, "awkward")
        peer_a = bytes([0, 0xFF, ord("%"), ord("+")] * 5)
        self.tracker.announce(peer_params(AWKWARD, peer_a, 9200, 10, "aw1"))
        settle()
        raw = "info_hash=%s&peer_id=%s&port=9201&uploaded=0&downloaded=0&left=10&key=aw2" % (
            encode_libtorrent(AWKWARD), encode_libtorrent(b"-LT2080-w4UO)MUIkbRU"))
        status, _, body = self.tracker.get("/announce?" + raw + "&compact=0")
        self.assertEqual(status, 200)
        answer = bdecode(body)
        self.assertEqual(answer[b"peers"],
                         [{b"ip": b"127.0.0.1", b"peer id": peer_a, b"port": 9200}])
        settle()
        self.assertEqual(mariadb("SELECT HEX(peerId) FROM peers p JOIN torrents t USING (tid) "
                                 "WHERE t.infohash = UNHEX('%s') AND p.uid = 'aw2'"
                                 % AWKWARD.hex()).strip(),
                         b"-LT2080-w4UO)MUIkbRU".hex().upper())

    def test_crypto_flags_and_requirecrypto_peers(self):
        info_hash = fresh_hash()
        register(info_hash, "crypto")
        self.tracker.announce(peer_params(info_hash, os.urandom(20), 9300, 10, "cr1",
                                          requirecrypto="1"))
        self.tracker.announce(peer_params(info_hash, os.urandom(20), 9301, 10, "cr2"))
        settle()
        # A client that can do crypto is told which peer requires it.
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9302, 10, "cr3",
                                                   supportcrypto="1"))
        flags = dict(zip((p for _, p in compact_peers(answer[b"peers"])), answer[b"crypto_flags"]))
        self.assertEqual(flags, {9300: 1, 9301: 0})
        # A client that sent nothing about crypto is never handed a peer that requires it.
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9303, 10, "cr4"))
        self.assertNotIn(b"crypto_flags", answer)
        ports = [p for _, p in compact_peers(answer[b"peers"])]
        self.assertNotIn(9300, ports)
        self.assertIn(9301, ports)

    def test_php_script_urls_still_work(self):
        info_hash = fresh_hash()
        register(info_hash, "php urls")
        self.tracker.announce(peer_params(info_hash, os.urandom(20), 9400, 0, "php1"),
                              path="/announce.php")
        settle()
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9400, 0, "php1"),
                                       path="/announce.php")
        self.assertEqual(answer[b"complete"], 1)
        self.assertIn(info_hash, self.tracker.scrape([info_hash], path="/scrape.php")[b"files"])

    def test_answers_are_plain_text_and_not_cached(self):
        status, headers, _ = self.tracker.get("/announce?info_hash=x")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(headers["Cache-Control"], "no-cache, must-revalidate")
        self.assertEqual(headers["Pragma"], "no-cache")

    @unittest.skipUnless(has_ipv6_loopback(int(os.environ.get("TRACKER_TEST_HTTP_PORT", "0"))),
                         "nginx has no [::1] listener on this machine")
    def test_ipv6_peers_go_in_peers6_only(self):
        info_hash = fresh_hash()
        register(info_hash, "ipv6")
        six = Tracker(host="::1")
        answer = six.announce(peer_params(info_hash, os.urandom(20), 9500, 10, "v6"))
        self.assertEqual(len(answer[b"external ip"]), 16)
        settle()
        answer = self.tracker.announce(peer_params(info_hash, os.urandom(20), 9501, 10, "v4"))
        self.assertEqual(compact_peers(answer[b"peers6"], 18), [("::1", 9500)])
        self.assertEqual(answer[b"peers"], b"")
        settle()
        answer = six.announce(peer_params(info_hash, os.urandom(20), 9500, 10, "v6"))
        self.assertEqual(compact_peers(answer[b"peers"]), [("127.0.0.1", 9501)])
        self.assertNotIn(b"peers6", answer)


class FailureTest(unittest.TestCase):
    tracker = Tracker()

    def reason(self, raw_query, path="/announce"):
        status, _, body = self.tracker.get(path + "?" + raw_query)
        self.assertEqual(status, 200, body)
        answer = bdecode(body)
        self.assertEqual(list(answer.keys()), [b"failure reason"], answer)
        return answer[b"failure reason"].decode("utf-8", "replace")

    def base(self, info_hash, **override):
        fields = dict(info_hash=info_hash, peer_id=b"-XX0001-abcdefghijkl", port="6881",
                      uploaded="0", downloaded="0", left="0", key="fk1")
        fields.update(override)
        return query([(k, v) for k, v in fields.items() if v is not None])

    def test_every_numbered_reason(self):
        info_hash = fresh_hash()
        register(info_hash, "failures")
        self.assertEqual(self.reason(self.base(info_hash, peer_id=None)),
                         'Tracker error #1: missing field "peer_id"')
        self.assertEqual(self.reason(self.base(info_hash[:19])),
                         "Tracker error #2: info_hash is 19 bytes, not 20")
        self.assertEqual(self.reason(self.base(info_hash, peer_id=b"short")),
                         "Tracker error #3: peer_id is 5 bytes, not 20")
        self.assertEqual(self.reason(self.base(info_hash, port="70000")),
                         'Tracker error #4: invalid port "70000"')
        self.assertEqual(self.reason(self.base(info_hash, port="0")),
                         'Tracker error #4: invalid port "0"')
        self.assertTrue(self.reason(self.base(fresh_hash())).startswith("Tracker error #5:"))
        banned = fresh_hash()
        register(banned, "banned", banned=True)
        self.assertTrue(self.reason(self.base(banned)).startswith("Tracker error #6:"))

    def test_bad_numbers_and_escapes_are_refused_and_write_nothing(self):
        info_hash = fresh_hash()
        register(info_hash, "bad numbers")
        for field, value in [("left", "-5"), ("uploaded", "1e9"), ("downloaded", "9" * 30),
                             ("left", "ten"), ("numwant", "-1")]:
            text = self.reason(self.base(info_hash, **{field: value}))
            self.assertIn("invalid %s" % field, text)
        self.assertIn("malformed percent-escape in info_hash",
                      self.reason("info_hash=%zz" + self.base(info_hash)[len("info_hash=") + 60:]))
        self.assertIn("unknown event", self.reason(self.base(info_hash, event="finished")))
        count = mariadb("SELECT COUNT(*) FROM peers p JOIN torrents t USING (tid) "
                        "WHERE t.infohash = UNHEX('%s')" % info_hash.hex()).strip()
        self.assertEqual(count, "0")

    def test_scrape_failures(self):
        self.assertEqual(self.reason("info_hash=" + encode_all(fresh_hash()), path="/scrape"),
                         "No results were found.")
        self.assertTrue(self.reason("info_hash=abc", path="/scrape")
                        .startswith("Tracker error #2:"))


class WebServerTest(unittest.TestCase):
    tracker = Tracker()

    def test_other_paths_are_404(self):
        for path in ["/", "/index.php", "/backend/config.php", "/announcer", "/cron.php"]:
            status, _, _ = self.tracker.get(path)
            self.assertEqual(status, 404, path)

    def test_browsers_are_refused(self):
        for agent in ["Mozilla/5.0 (X11; Linux x86_64)", "Opera/9.80", "Lynx/2.8.9",
                      "Links (2.29; Linux)"]:
            status, _, _ = self.tracker.get("/announce?info_hash=x", user_agent=agent)
            self.assertEqual(status, 403, agent)

    def test_scrape_many_and_full_scrape(self):
        hashes = [fresh_hash() for _ in range(3)]
        for n, h in enumerate(hashes):
            register(h, "many %d" % n)
        files = self.tracker.scrape(hashes + [fresh_hash()])[b"files"]
        self.assertEqual(sorted(files), sorted(hashes))
        self.assertEqual(files[hashes[1]][b"name"], b"many 1")
        status, _, body = self.tracker.get("/scrape")
        self.assertEqual(status, 200)
        answer = bdecode(body)
        self.assertEqual(answer[b"flags"], {b"min_request_interval": 3600})
        self.assertGreaterEqual(len(answer[b"files"]), 1)

    def test_live_stats_as_json_and_prometheus(self):
        import json
        status, headers, body = self.tracker.get("/stats")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        stats = json.loads(body)
        self.assertGreater(stats["requests"]["announce"], 0)
        self.assertIn("5_not_registered", stats["failures"])
        self.assertEqual(stats["pool"]["size"], 8)
        status, _, body = self.tracker.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b'tracker_requests_total{kind="announce"} ', body)
        self.assertIn(b"# TYPE tracker_db_pool_in_use gauge", body)

    def test_non_get_methods_are_refused(self):
        status, _, _ = self.tracker.get("/announce?info_hash=x", method="POST")
        self.assertIn(status, (405, 411))


class SiteSnippetTest(unittest.TestCase):
    """The tracker inside a site's own server block: deploy/nginx/tracker-http.conf at http
    level and deploy/nginx/tracker-locations.conf included in a server that also serves the
    site's pages and its own PHP. The site's pages stay the site's, browsers included; the
    tracker's URLs (the .php ones at any prefix) reach the workers."""

    @classmethod
    def setUpClass(cls):
        root = os.environ.get("TRACKER_TEST_ROOT") or os.path.abspath(
            os.path.join(os.path.dirname(__file__), "..", ".."))
        state = os.environ["TRACKER_TEST_STATE_DIR"]
        nginx_dir = os.path.join(state, "nginx")
        cls.dir = tempfile.mkdtemp(prefix="tracker-e2e-site-")
        os.makedirs(os.path.join(cls.dir, "site"))
        os.makedirs(os.path.join(cls.dir, "logs"))
        os.makedirs(os.path.join(cls.dir, "tmp"))
        with open(os.path.join(cls.dir, "site", "index.html"), "w") as f:
            f.write("the site's own page\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cls.port = s.getsockname()[1]
        with open(os.path.join(root, "deploy", "nginx", "tracker-http.conf")) as f:
            http_level = f.read().replace("unix:/run/tracker/tracker-fcgi.sock",
                                          "unix:" + os.path.join(state, "tracker-fcgi.sock"))
        shutil.copy(os.path.join(root, "deploy", "nginx", "tracker-locations.conf"), cls.dir)
        server = """
server {
    listen 127.0.0.1:%d;
    root %s;
    include %s;
    location ~ \\.php$ {
        default_type text/plain;
        return 200 "the site's own php\\n";
    }
    location / {
        try_files $uri =404;
    }
}
""" % (cls.port, os.path.join(cls.dir, "site"), os.path.join(cls.dir, "tracker-locations.conf"))
        with open(os.path.join(cls.dir, "site.conf"), "w") as f:
            f.write(http_level + server)
        with open(os.path.join(nginx_dir, "nginx.conf")) as f:
            main = f.read().replace(os.path.join(nginx_dir, "tracker-server.conf"),
                                    os.path.join(cls.dir, "site.conf"))
        main = main.replace(nginx_dir, cls.dir)
        cls.conf = os.path.join(cls.dir, "nginx.conf")
        with open(cls.conf, "w") as f:
            f.write(main)
        shutil.copy(os.path.join(nginx_dir, "fastcgi_params"), cls.dir)
        result = subprocess.run(["nginx", "-c", cls.conf], capture_output=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError("nginx with the snippet did not start: %s" %
                                 result.stderr.decode("utf-8", "replace"))
        cls.site = Tracker(port=cls.port)
        deadline = time.monotonic() + 10
        while cls.site.get("/index.html")[0] != 200:
            assert time.monotonic() < deadline, "the site's nginx does not answer"
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["nginx", "-c", cls.conf, "-s", "quit"], timeout=30)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_the_site_keeps_its_pages_and_its_php(self):
        browser = "Mozilla/5.0 (X11; Linux x86_64)"
        self.assertEqual(self.site.get("/index.html", user_agent=browser)[:1], (200,))
        self.assertEqual(self.site.get("/index.html")[2], b"the site's own page\n")
        self.assertEqual(self.site.get("/news.php", user_agent=browser)[2],
                         b"the site's own php\n")
        self.assertEqual(self.site.get("/forum/announce")[0], 404)  # not the tracker's
        self.assertEqual(self.site.get("/stats")[0], 404)

    def test_the_tracker_urls_reach_the_workers(self):
        info_hash = fresh_hash()
        register(info_hash, "inside a site")
        params = peer_params(info_hash, os.urandom(20), 9300, 10, "site1")
        for path in ["/announce", "/announce.php", "/tracker/announce.php"]:
            answer = self.site.announce(params, path=path)
            self.assertIn(b"interval", answer, path)
        settle()  # scrapes read the table
        for path in ["/scrape", "/scrape.php", "/tracker/scrape.php"]:
            files = self.site.scrape([info_hash], path=path)[b"files"]
            self.assertEqual(files[info_hash][b"incomplete"], 1, path)
        status, _, _ = self.site.get("/tracker/announce.php?info_hash=x",
                                     user_agent="Mozilla/5.0 (X11; Linux x86_64)")
        self.assertEqual(status, 403)
        status, _, body = self.site.get("/tracker/stats")
        self.assertEqual(status, 200)
        self.assertIn("pid", json.loads(body))


if __name__ == "__main__":
    unittest.main()
