#!/usr/bin/env python3
"""Writes the checked-in seed corpora under tests/fuzz/corpus/<target>/ (deterministic).

Run it again after changing a target's input format; tests/fuzz/run only reads the corpora.
The .torrent seeds come from mktorrent (apt-get install mktorrent) plus hand-made v2, hybrid,
padding-file and broken files. File names say what each seed is.
"""

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def bencode(value) -> bytes:
    if isinstance(value, bool):
        raise TypeError("no booleans in bencode")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(type(value))


UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def esc_libtorrent(raw: bytes) -> str:
    """libtorrent (qBittorrent, Deluge): unreserved raw, the rest %xx lower case."""
    return "".join(chr(b) if b in UNRESERVED else "%%%02x" % b for b in raw)


def esc_upper(raw: bytes) -> str:
    """Transmission, uTorrent: unreserved raw, the rest %XX upper case."""
    return "".join(chr(b) if b in UNRESERVED else "%%%02X" % b for b in raw)


def esc_all(raw: bytes) -> str:
    return "".join("%%%02X" % b for b in raw)


HASH = bytes.fromhex("8ac39b2e7a1f00ff26253d2b25c0ffee12345678")
HASH2 = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")
AWKWARD = bytes([0, ord("&"), ord("="), ord("+"), ord("%"), 0xFF, ord("A"), ord("z"), ord("0"),
                 ord("-"), ord(" "), ord("#"), ord("?"), 0x80, 0x7F, ord("."), ord("_"),
                 ord("~"), 0x0A, 0x0D])


def announce(client, peer_id, escape=esc_libtorrent, info_hash=HASH, **extra):
    order = {
        "qbittorrent": ["port", "uploaded", "downloaded", "left", "corrupt", "key", "event",
                        "numwant", "compact", "no_peer_id", "supportcrypto", "redundant"],
        "transmission": ["port", "uploaded", "downloaded", "left", "numwant", "key", "compact",
                         "supportcrypto", "event"],
        "utorrent": ["port", "uploaded", "downloaded", "left", "corrupt", "key", "event",
                     "numwant", "compact", "no_peer_id"],
        "rtorrent": ["key", "compact", "port", "uploaded", "downloaded", "left", "event"],
    }[client]
    defaults = {"port": "51413", "uploaded": "0", "downloaded": "0", "left": "734003200",
                "corrupt": "0", "key": "8B2D1F4A", "event": "started", "numwant": "200",
                "compact": "1", "no_peer_id": "1", "supportcrypto": "1", "redundant": "0"}
    defaults.update(extra)
    parts = ["info_hash=" + escape(info_hash), "peer_id=" + escape(peer_id)]
    for key in order:
        if defaults.get(key) is not None:
            parts.append("%s=%s" % (key, defaults[key]))
    for key, value in extra.items():
        if key not in order and value is not None:
            parts.append("%s=%s" % (key, value))
    return "&".join(parts)


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


QB = b"-qB4520-k8hj!a(5ZAQs"
TR = b"-TR4050-x7pq0b2vmx9z"
UT = b"-UT360S-\x8a\x01\xf3zK\x00\x11\x93\xe0\x7f\xaa\x01"
LT = b"-lt0D80-\xb1\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
AZ = b"-AZ5770-abcdefghijkl"


def real_announces():
    """(name, query) pairs as real clients send them, then the edge cases."""
    yield "qbittorrent_started", announce("qbittorrent", QB)
    yield "qbittorrent_completed", announce("qbittorrent", QB, left="0", event="completed")
    yield "qbittorrent_regular", announce("qbittorrent", QB, event=None, uploaded="1048576",
                                          downloaded="52428800", left="681574400")
    yield "deluge_ipv6_param", announce("qbittorrent", b"-DE211s-Xu0L!8v1pQz3",
                                        ipv6="2001%3adb8%3a%3a1", key="1B2C3D4E")
    yield "transmission_started", announce("transmission", TR, escape=esc_upper, numwant="80",
                                           key="3f9b2c1a")
    yield "transmission_stopped", announce("transmission", TR, escape=esc_upper, event="stopped",
                                           numwant="0", key="3f9b2c1a")
    yield "transmission_requirecrypto", announce("transmission", TR, escape=esc_upper,
                                                 requirecrypto="1", key="3f9b2c1a")
    yield "utorrent_started", announce("utorrent", UT, escape=esc_upper, key="7C1BA9E1")
    yield "rtorrent_started", announce("rtorrent", LT, key="1a2b3c4d")
    yield "vuze_azureus", ("info_hash=%s&peer_id=%s&supportcrypto=1&port=6881&azudp=6881"
                           "&uploaded=0&downloaded=0&left=100&corrupt=0&event=started"
                           "&numwant=100&no_peer_id=1&compact=1&key=X7WuVbW1&azver=3"
                           % (esc_all(HASH), esc_all(AZ)))
    yield "bitcomet_cryptoport", announce("utorrent", b"-BC0181-abcdefghijkl", escape=esc_upper,
                                          cryptoport="6882", requirecrypto="1", port="0")
    yield "paused_bep21", announce("qbittorrent", QB, event="paused", left="0")
    yield "noncompact_peer_id", announce("qbittorrent", QB, compact="0", no_peer_id="0")
    yield "ip_param_public", announce("qbittorrent", QB, ip="93.184.216.34")
    yield "ip_param_private", announce("qbittorrent", QB, ip="192.168.1.20")
    yield "ip_param_ipv6", announce("qbittorrent", QB, ip="2a00%3a1450%3a4001%3a%3a200e")
    yield "awkward_hash_all_escaped", announce("qbittorrent", QB, escape=esc_all,
                                               info_hash=AWKWARD)
    yield "awkward_hash_libtorrent", announce("qbittorrent", AWKWARD, info_hash=AWKWARD)
    yield "no_key", announce("qbittorrent", QB, key=None)
    yield "key_11_chars", announce("qbittorrent", QB, key="ABCDEFGHIJK")
    yield "key_odd_bytes", announce("qbittorrent", QB, key="%00%FF%26key")
    yield "left_leading_zeros", announce("qbittorrent", QB, left="0000")
    yield "numwant_max_u64", announce("qbittorrent", QB, numwant="18446744073709551615")
    yield "numwant_over_u64", announce("qbittorrent", QB, numwant="18446744073709551616")
    yield "port_0", announce("qbittorrent", QB, port="0")
    yield "port_65536", announce("qbittorrent", QB, port="65536")
    yield "left_ten", announce("qbittorrent", QB, left="ten")
    yield "uploaded_negative", announce("qbittorrent", QB, uploaded="-1")
    yield "event_bogus", announce("qbittorrent", QB, event="start%20ed")
    yield "repeated_keys", announce("qbittorrent", QB) + "&port=1&info_hash=short&left=5"
    yield "missing_everything", "compact=1&no_peer_id=1"
    yield "missing_port_and_left", "info_hash=%s&peer_id=%s&uploaded=0&downloaded=0" % (
        esc_all(HASH), esc_all(QB))
    yield "hash_19_bytes", announce("qbittorrent", QB, info_hash=HASH[:19])
    yield "hash_21_bytes", announce("qbittorrent", QB, info_hash=HASH + b"x")
    yield "truncated_escape_end", announce("qbittorrent", QB)[:-1] + "%4"
    yield "truncated_escape_left", announce("qbittorrent", QB, left="12%4")
    yield "bad_escape_in_hash", announce("qbittorrent", QB, escape=esc_all).replace(
        "info_hash=%8A", "info_hash=%zz", 1)
    yield "bad_escape_in_peer_id", announce("qbittorrent", QB).replace("peer_id=-", "peer_id=%G", 1)
    yield "escape_in_key", announce("qbittorrent", QB).replace("port=", "p%6Frt=")
    yield "plus_is_not_space", announce("qbittorrent", QB, key="a+b")
    yield "empty", ""
    yield "ampersands", "&&&="
    yield "lone_percent", "%"
    yield "percent_nul", "info_hash=%00&%00=%00"
    yield "scrape_two_hashes", "info_hash=%s&info_hash=%s" % (esc_all(HASH), esc_libtorrent(HASH2))
    yield "scrape_duplicate_hashes", "info_hash=%s&info_hash=%s" % (esc_all(HASH), esc_upper(HASH))
    yield "scrape_many_hashes", "&".join(
        "info_hash=" + esc_all(hashlib.sha1(b"%d" % i).digest()) for i in range(8))


# Header byte 0: bits 0-3 REMOTE_ADDR (15 = from the input), bit 4 requireKey, bit 5
# allowIpParam, bits 6-7 numwant policy. Byte 1: scrape maxHashes (63 = no limit).
HEADERS = [bytes([0x00, 0x05]), bytes([0x20, 0x3f]), bytes([0x04, 0x02]), bytes([0x16, 0x01]),
           bytes([0x46, 0x08]), bytes([0x81, 0x3f]), bytes([0xe7, 0x00]), bytes([0x0b, 0x05])]


# Seeds that need a policy: `ip` is read only with allowIpParam, a missing key refused only
# with requireKey.
HEADER_FOR = {"ip_param_public": bytes([0x20, 0x05]), "ip_param_private": bytes([0x24, 0x05]),
              "ip_param_ipv6": bytes([0x26, 0x05]), "no_key": bytes([0x10, 0x05]),
              "key_odd_bytes": bytes([0x10, 0x05])}


def query_corpus():
    for i, (name, query) in enumerate(real_announces()):
        header = HEADER_FOR.get(name, HEADERS[i % len(HEADERS)])
        write("fuzz_query_announce", name, header + query.encode("latin-1"))
    # REMOTE_ADDR taken from the input: byte 1 % 72 bytes of address, then the query.
    for name, addr in [("addr_v4", b"203.0.113.9"), ("addr_v4_mapped", b"::ffff:8.8.8.8"),
                       ("addr_v6_scoped", b"fe80::1%lo"), ("addr_nul", b"8.8.8.8\x00x")]:
        q = announce("qbittorrent", QB).encode()
        write("fuzz_query_announce", name, bytes([0x2f, len(addr)]) + addr + q)


def responses_corpus():
    rng = random.Random(6)
    queries = [q for _, q in real_announces()][:28] + ["", "info_hash=x"]
    for i, query in enumerate(queries):
        tail = bytes(rng.randrange(256) for _ in range(rng.choice([16, 64, 200, 600])))
        write("fuzz_responses", "seed_%02d" % i, query.encode("latin-1") + b"\n" + tail)


def bencode_corpus():
    peers4 = bytes([93, 184, 216, 34, 0x1a, 0xe1, 10, 0, 0, 1, 0xc8, 0xd5])
    peers6 = bytes.fromhex("2a001450400100000000000000000200") + b"\x1a\xe1"
    seeds = {
        "announce_compact": {"complete": 3, "downloaded": 12, "external ip": bytes([8, 8, 4, 4]),
                             "incomplete": 1, "interval": 900, "min interval": 300,
                             "peers": peers4},
        "announce_crypto_peers6": {"complete": 0, "crypto_flags": b"\x00\x01",
                                   "downloaded": 0, "external ip": bytes(16), "incomplete": 2,
                                   "interval": 900, "min interval": 300, "peers": peers4,
                                   "peers6": peers6, "warning message": "ip ignored"},
        "announce_dict_peers": {"complete": 1, "downloaded": 1, "external ip": b"\x7f\0\0\1",
                                "incomplete": 0, "interval": 1800, "min interval": 900,
                                "peers": [{"ip": "10.0.0.1", "peer id": QB, "port": 51413},
                                          {"ip": "93.184.216.34", "port": 6881}]},
        "failure": {"failure reason": "Tracker error #2: info_hash is 19 bytes, not 20"},
        "failure_unavailable": {"failure reason": "Tracker error: temporarily unavailable",
                                "retry in": 60},
        "scrape": {"files": {HASH: {"complete": 5, "downloaded": 50, "incomplete": 10,
                                    "name": "ubuntu.iso"},
                             HASH2: {"complete": 0, "downloaded": 0, "incomplete": 0,
                                     "name": ""}},
                   "flags": {"min_request_interval": 900}},
        "scrape_none": {"failure reason": "No results were found."},
        "torrent_like": {"announce": "http://t.example/announce",
                         "info": {"length": 3, "name": "a", "piece length": 32768,
                                  "pieces": bytes(20)}},
    }
    for name, value in seeds.items():
        write("fuzz_bencode", name, bencode(value))
    raw = {
        "int_zero": b"i0e", "int_neg": b"i-42e", "int_max": b"i9223372036854775807e",
        "int_min": b"i-9223372036854775808e", "int_over": b"i9223372036854775808e",
        "int_neg_zero": b"i-0e", "int_leading_zero": b"i012e", "int_empty": b"ie",
        "str_empty": b"0:", "str_leading_zero": b"01:a", "str_binary": b"4:\x00\xff\x80e",
        "str_too_long": b"5:abc", "str_huge_len": b"99999999999999999999999:x",
        "list_empty": b"le", "dict_empty": b"de", "nested": b"lld1:ai1eeleli-1e0:ee",
        "dict_unsorted": b"d1:bi1e1:ai2ee", "dict_dup_key": b"d1:ai1e1:ai2ee",
        "dict_int_key": b"di1ei2ee", "dict_high_bytes_keys": b"d1:\x7fi1e1:\x80i2e1:\xffi3ee",
        "trailing": b"i1ei2e", "unclosed_list": b"li1e", "deep_64": b"l" * 63 + b"e" * 63,
        "deep_65": b"l" * 65 + b"e" * 65,
    }
    for name, data in raw.items():
        write("fuzz_bencode", name, data)


def torrent_corpus():
    target = "fuzz_torrent_file"
    directory = os.path.join(CORPUS, target)
    made = 0
    if shutil.which("mktorrent") is None:
        print("mktorrent missing: no mktorrent seeds (apt-get install mktorrent)", file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            single = os.path.join(tmp, "hello.txt")
            with open(single, "wb") as f:
                f.write(b"hello, tracker\n" * 3)
            multi = os.path.join(tmp, "album")
            os.makedirs(os.path.join(multi, "cd2"))
            for rel, size in [("01.flac", 40000), ("02.flac", 100), ("cd2/03.flac", 5),
                              ("cover.jpg", 0)]:
                with open(os.path.join(multi, rel), "wb") as f:
                    f.write(bytes((i * 7 + size) % 251 for i in range(size)))
            runs = [
                ("mktorrent_single", ["-a", "http://tracker.example/announce"], single),
                ("mktorrent_private", ["-p", "-a", "http://tracker.example/announce"], single),
                ("mktorrent_multi", ["-a", "http://tracker.example/announce"], multi),
                ("mktorrent_tiers", ["-a", "http://a.example/announce,http://b.example/announce",
                                     "-a", "udp://c.example:6969/announce",
                                     "-a", "http://a.example/announce"], multi),
                ("mktorrent_comment_webseed", ["-a", "http://t.example/announce", "-c",
                                               "a comment", "-w", "http://seed.example/album",
                                               "-n", "renamed", "-s", "SRC"], multi),
            ]
            for name, args, path in runs:
                out = os.path.join(tmp, name + ".torrent")
                subprocess.run(["mktorrent", "-d", "-l", "15", "-o", out] + args + [path],
                               check=True, stdout=subprocess.DEVNULL)
                os.makedirs(directory, exist_ok=True)
                shutil.copy(out, os.path.join(directory, name))
                made += 1
    info = {"length": 45, "name": "hello.txt", "piece length": 32768, "pieces": bytes(range(20))}
    hand = {
        "v1_minimal": {"announce": "http://t/a", "info": info},
        "v1_name_utf8": {"info": dict(info, **{"name.utf-8": "h\u00e9llo"}),
                         "announce-list": [["http://a/x", "http://b/x"], ["http://a/x"], []]},
        "v1_padding_files": {"info": {"files": [{"length": 10, "path": ["a"]},
                                                {"attr": "p", "length": 32758,
                                                 "path": [".pad", "32758"]},
                                                {"length": 5, "path": ["b"]}],
                                      "name": "dir", "piece length": 32768,
                                      "pieces": bytes(40)}},
        "hybrid": {"announce": "http://t/a",
                   "info": {"file tree": {"hello.txt": {"": {"length": 45,
                                                             "pieces root": bytes(32)}}},
                            "length": 45, "meta version": 2, "name": "hello.txt",
                            "piece length": 32768, "pieces": bytes(20)},
                   "piece layers": {}},
        "pure_v2": {"info": {"file tree": {"a": {"": {"length": 1, "pieces root": bytes(32)}}},
                             "meta version": 2, "name": "a", "piece length": 16384}},
        "meta_version_3": {"info": dict(info, **{"meta version": 3})},
        "pieces_19": {"info": dict(info, pieces=bytes(19))},
        "negative_length": {"info": dict(info, length=-1)},
        "files_empty": {"info": {"files": [], "name": "d", "piece length": 1, "pieces": b""}},
        "files_overflow": {"info": {"files": [{"length": 2**63 - 1, "path": ["a"]},
                                              {"length": 2**63 - 1, "path": ["b"]},
                                              {"length": 2, "path": ["c"]}],
                                    "name": "d", "piece length": 1, "pieces": b""}},
        "info_is_list": {"info": [1, 2]},
        "no_info": {"announce": "http://t/a"},
    }
    for name, value in hand.items():
        write(target, name, bencode(value))
    write(target, "truncated", bencode(hand["v1_minimal"])[:-7])
    write(target, "not_bencode", b"<html>404</html>")
    write(target, "hex_hash_then_junk", b"0123456789abcdef0123456789ABCDEF01234567 x")
    return made


def main():
    for target in ["fuzz_query_announce", "fuzz_bencode", "fuzz_responses", "fuzz_torrent_file"]:
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    query_corpus()
    responses_corpus()
    bencode_corpus()
    torrent_corpus()
    for target in sorted(os.listdir(CORPUS)):
        print("%-22s %3d seeds" % (target, len(os.listdir(os.path.join(CORPUS, target)))))


if __name__ == "__main__":
    main()
