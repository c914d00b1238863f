// .torrent parsing for trackerctl: the v1 info hash against SHA-1s computed independently
// (python3 hashlib over the same bytes), name, sizes, v2 handling, and every kind of bad file.
#include <catch2/catch.hpp>

#include <string>

#include "torrent/info_hash_hex.h"
#include "torrent/torrent_file.h"

using tracker::torrent::parseTorrentFile;
using tracker::torrent::TorrentFile;
using tracker::torrent::TorrentFileError;

namespace {

// Bytes 0..n-1: NUL, newline and friends inside `pieces`, as in real files.
std::string countingBytes(int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out.push_back(static_cast<char>(i));
    return out;
}

std::string bstr(const std::string& s) {
    return std::to_string(s.size()) + ":" + s;
}

const std::string kSingleInfo = "d6:lengthi12345e4:name8:file.bin12:piece lengthi16384e6:pieces" +
                                bstr(countingBytes(20)) + "e";
const std::string kSingle =
    "d8:announce" + bstr("http://tracker.example/announce") + "4:info" + kSingleInfo + "e";

// Two files and a BEP 47 padding file between them.
const std::string kMultiInfo =
    "d5:filesld6:lengthi100e4:pathl5:a.binee"
    "d4:attr1:p6:lengthi924e4:pathl4:.pad3:924ee"
    "d6:lengthi250e4:pathl3:sub5:b.bineee"
    "4:name3:dir12:piece lengthi1024e6:pieces" +
    bstr(countingBytes(20) + countingBytes(20)) + "e";

// BEP 52 hybrid: `meta version` 2 with a v2 `file tree` and the v1 `pieces`.
const std::string kHybridInfo = "d9:file treed8:file.bind0:d6:lengthi12345e11:pieces root" +
                                bstr(countingBytes(32)) +
                                "eee6:lengthi12345e12:meta versioni2e4:name8:file.bin"
                                "12:piece lengthi16384e6:pieces" +
                                bstr(countingBytes(20)) + "e";

// Pure v2: no `pieces`.
const std::string kPureV2Info = "d9:file treed8:file.bind0:d6:lengthi12345e11:pieces root" +
                                bstr(countingBytes(32)) +
                                "eee12:meta versioni2e4:name8:file.bin12:piece lengthi16384ee";

TorrentFile parsedOk(const std::string& bytes) {
    auto result = parseTorrentFile(bytes);
    if (const auto* error = std::get_if<TorrentFileError>(&result))
        FAIL("refused: " << error->message);
    return std::get<TorrentFile>(result);
}

std::string refusal(const std::string& bytes) {
    auto result = parseTorrentFile(bytes);
    if (!std::holds_alternative<TorrentFileError>(result))
        FAIL("accepted a bad .torrent of " << bytes.size() << " bytes");
    return std::get<TorrentFileError>(result).message;
}

}  // namespace

TEST_CASE("a single-file torrent: SHA-1 of the info dict's bytes, name, size, tracker") {
    TorrentFile torrent = parsedOk(kSingle);
    // python3 -c "import hashlib; print(hashlib.sha1(INFO).hexdigest())"
    CHECK(tracker::torrent::toHex(torrent.infoHash) == "17fb9192fedf4a22f5bc453d89508de8daeecda2");
    CHECK(torrent.name == "file.bin");
    CHECK(torrent.totalSize == 12345);
    CHECK(torrent.fileCount == 1);
    CHECK(torrent.announceUrls == std::vector<std::string>{"http://tracker.example/announce"});
    CHECK_FALSE(torrent.hybrid);
    CHECK_FALSE(torrent.isPrivate);
}

TEST_CASE("the hash covers the info dict only, exactly as written") {
    TorrentFile base = parsedOk(kSingle);
    // Another tracker URL outside `info`: same torrent, same hash.
    TorrentFile otherTracker =
        parsedOk("d8:announce24:udp://other.example:69694:info" + kSingleInfo + "e");
    CHECK(otherTracker.infoHash == base.infoHash);
    // One byte of the name changed inside `info`: another torrent.
    std::string renamed = kSingle;
    renamed.replace(renamed.find("file.bin"), 8, "file.bim");
    CHECK(parsedOk(renamed).infoHash != base.infoHash);
}

TEST_CASE("a multi-file torrent adds up its files, padding left out") {
    TorrentFile torrent = parsedOk("d4:info" + kMultiInfo + "e");
    CHECK(tracker::torrent::toHex(torrent.infoHash) == "9d17359f7ce1a4f0d9093747fca9d024b0365794");
    CHECK(torrent.name == "dir");
    CHECK(torrent.totalSize == 350);
    CHECK(torrent.fileCount == 2);
    CHECK(torrent.announceUrls.empty());
}

TEST_CASE("name.utf-8 is preferred to name, announce-list is flattened without repeats") {
    std::string info =
        "d6:lengthi1e4:name4:\xe9t\xe9s10:name.utf-86:\xc3\xa9t\xc3\xa9s"
        "12:piece lengthi16384e6:pieces20:" +
        countingBytes(20) + "7:privatei1ee";
    TorrentFile torrent =
        parsedOk("d8:announce8:http://a13:announce-listll8:http://a8:http://bel8:http://cee4:info" +
                 info + "e");
    CHECK(torrent.name == "\xc3\xa9t\xc3\xa9s");
    CHECK(torrent.announceUrls == std::vector<std::string>{"http://a", "http://b", "http://c"});
    CHECK(torrent.isPrivate);
}

TEST_CASE("a hybrid v1+v2 torrent is taken by its v1 SHA-1 hash") {
    TorrentFile torrent = parsedOk("d4:info" + kHybridInfo + "e");
    CHECK(torrent.hybrid);
    CHECK(tracker::torrent::toHex(torrent.infoHash) == "49c2046f2ce7677b7ce5c6d5434e52ae75cbddb6");
    CHECK(torrent.v2InfoHashHex ==
          "12544b8abdcf5e5d83a3822f8013f801d0b9bcffa22014fbabbf698dbdd5fd15");
    CHECK(torrent.totalSize == 12345);
}

TEST_CASE("a pure v2 torrent is refused, saying what is served") {
    std::string message = refusal("d4:info" + kPureV2Info + "e");
    CHECK_THAT(message, Catch::Contains("pure BitTorrent v2"));
    CHECK_THAT(message, Catch::Contains("v1 and hybrid"));
}

TEST_CASE("every truncation of a valid torrent is refused as truncated, without a crash") {
    for (const std::string& whole : {kSingle, "d4:info" + kMultiInfo + "e"}) {
        CHECK_THAT(refusal(""), Catch::Contains("empty"));
        for (std::size_t length = 1; length < whole.size(); ++length) {
            INFO("prefix of " << length << " bytes");
            CHECK_THAT(refusal(whole.substr(0, length)), Catch::Contains("truncated"));
        }
    }
}

TEST_CASE("bytes that are not bencode are refused with the offset") {
    CHECK_THAT(refusal("<html>404</html>"),
               Catch::Contains("not a bencoded") && Catch::Contains("offset 0"));
    std::string trailing = kSingle + "x";
    CHECK_THAT(refusal(trailing), Catch::Contains("trailing") &&
                                      Catch::Contains("offset " + std::to_string(kSingle.size())));
    // Keys out of order inside `info`: clients would hash these bytes, but it is not bencode.
    CHECK_THAT(refusal("d4:infod4:name1:a6:lengthi1eee"), Catch::Contains("ascending"));
}

TEST_CASE("well-formed bencode that is not a usable torrent is refused with the reason") {
    CHECK_THAT(refusal("d8:announce8:http://ae"), Catch::Contains("no `info` dictionary"));
    CHECK_THAT(refusal("li1ee"), Catch::Contains("not a dictionary"));
    CHECK_THAT(refusal("d4:infoi1ee"), Catch::Contains("`info` is not a dictionary"));
    CHECK_THAT(
        refusal("d4:infod6:lengthi1e12:piece lengthi1e6:pieces20:" + countingBytes(20) + "ee"),
        Catch::Contains("no `name`"));
    CHECK_THAT(refusal("d4:infod6:lengthi1e4:name1:a12:piece lengthi1eee"),
               Catch::Contains("no `pieces`"));
    CHECK_THAT(refusal("d4:infod4:name1:a12:piece lengthi1e6:pieces20:" + countingBytes(20) + "ee"),
               Catch::Contains("neither `length`"));
    CHECK_THAT(refusal("d4:infod6:lengthi-5e4:name1:a12:piece lengthi1e6:pieces20:" +
                       countingBytes(20) + "ee"),
               Catch::Contains("`length`"));
    CHECK_THAT(refusal("d4:infod6:lengthi1e12:meta versioni3e4:name1:a6:pieces20:" +
                       countingBytes(20) + "ee"),
               Catch::Contains("meta version"));
}

TEST_CASE("hex info hashes: 40 digits either case, nothing else") {
    auto hash = tracker::torrent::parseHexInfoHash("17FB9192fedf4a22f5bc453d89508de8daeecda2");
    REQUIRE(hash);
    CHECK(tracker::torrent::toHex(*hash) == "17fb9192fedf4a22f5bc453d89508de8daeecda2");
    CHECK(static_cast<unsigned char>((*hash)[0]) == 0x17);
    CHECK_FALSE(tracker::torrent::parseHexInfoHash("17fb9192fedf4a22f5bc453d89508de8daeecda"));
    CHECK_FALSE(tracker::torrent::parseHexInfoHash("17fb9192fedf4a22f5bc453d89508de8daeecdag"));
    CHECK_FALSE(tracker::torrent::parseHexInfoHash("12345"));
}

TEST_CASE("torrent: a files list of padding files only is refused (found by fuzzing)") {
    auto parsed = tracker::torrent::parseTorrentFile(
        "d4:infod5:filesld4:attr1:p6:lengthi5e4:pathl1:xeee4:name0:12:piece lengthi1e6:pieces0:"
        "ee");
    REQUIRE(std::holds_alternative<TorrentFileError>(parsed));
    CHECK(std::get<TorrentFileError>(parsed).message.find("padding") != std::string::npos);
}
