// libFuzzer target: the .torrent parser (parseTorrentFile), which trackerctl runs on files an
// admin was handed. The whole input is the file's bytes. What it accepts must agree with the
// bencode underneath: the info hash is the SHA-1 of the info dict's exact bytes, the name and
// sizes are those of the info dict, and the announce URLs are distinct and non-empty.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "protocol/bencode.h"
#include "torrent/info_hash_hex.h"
#include "torrent/torrent_file.h"

using namespace tracker;

namespace {

void checkAccepted(const torrent::TorrentFile& file, std::string_view input) {
    // The parser accepted it, so the bencode is valid with the parser's own depth limit.
    auto decoded = protocol::bdecode(input, 512);
    FUZZ_CHECK(std::holds_alternative<protocol::BValue>(decoded));
    const protocol::BValue& root = std::get<protocol::BValue>(decoded);
    const protocol::BValue* info = root.find("info");
    FUZZ_CHECK(info != nullptr && info->asDict() != nullptr);
    FUZZ_CHECK(info->begin < info->end && info->end <= input.size());
    FUZZ_CHECK(input[info->begin] == 'd' && input[info->end - 1] == 'e');

    unsigned char sha1[20];
    unsigned int length = 0;
    FUZZ_CHECK(EVP_Digest(input.data() + info->begin, info->end - info->begin, sha1, &length,
                          EVP_sha1(), nullptr) == 1 &&
               length == 20);
    FUZZ_CHECK(std::memcmp(sha1, file.infoHash.data(), 20) == 0);

    // The hex form an admin types round-trips.
    std::string hex = torrent::toHex(file.infoHash);
    FUZZ_CHECK(hex.size() == 40);
    auto back = torrent::parseHexInfoHash(hex);
    FUZZ_CHECK(back && *back == file.infoHash);

    const protocol::BValue* pieces = info->find("pieces");
    FUZZ_CHECK(pieces != nullptr && pieces->asString() != nullptr &&
               pieces->asString()->size() % 20 == 0);
    const protocol::BValue* name = info->find("name.utf-8");
    if (name == nullptr || name->asString() == nullptr)
        name = info->find("name");
    FUZZ_CHECK(name != nullptr && name->asString() != nullptr && *name->asString() == file.name);

    if (file.hybrid)
        FUZZ_CHECK(file.v2InfoHashHex.size() == 64);
    else
        FUZZ_CHECK(file.v2InfoHashHex.empty());

    for (std::size_t i = 0; i < file.announceUrls.size(); ++i) {
        FUZZ_CHECK(!file.announceUrls[i].empty());
        for (std::size_t j = i + 1; j < file.announceUrls.size(); ++j)
            FUZZ_CHECK(file.announceUrls[i] != file.announceUrls[j]);
    }
    // A single-file torrent has exactly its `length`.
    if (info->find("files") == nullptr) {
        const protocol::BValue* length = info->find("length");
        FUZZ_CHECK(length != nullptr && length->asInt() != nullptr);
        FUZZ_CHECK(file.fileCount == 1);
        FUZZ_CHECK(file.totalSize == static_cast<std::uint64_t>(*length->asInt()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    // The input's first 40 bytes as typed hex: exactly 40 hex digits are taken, nothing else.
    std::string_view text = input.substr(0, 40);
    auto typed = torrent::parseHexInfoHash(text);
    bool allHex = text.size() == 40 &&
                  text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
    FUZZ_CHECK(typed.has_value() == allHex);

    auto result = torrent::parseTorrentFile(input);
    if (const auto* error = std::get_if<torrent::TorrentFileError>(&result)) {
        FUZZ_CHECK(!error->message.empty());
        return 0;
    }
    checkAccepted(std::get<torrent::TorrentFile>(result), input);
    return 0;
}
