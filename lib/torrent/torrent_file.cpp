#include "torrent/torrent_file.h"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>

#include "protocol/bencode.h"

namespace tracker::torrent {

const char* const kSupportedTorrents =
    "this tracker serves BitTorrent v1 and hybrid (v1+v2) torrents only: it registers a "
    "torrent by its 20-byte SHA-1 info hash, like the PHP tracker's `infohash` column";

namespace {

using protocol::BValue;

// Real file trees (v2 `file tree`, long paths) nest deeper than announce-sized input does.
constexpr int kMaxDepth = 512;

TorrentFileError error(std::string message) {
    return TorrentFileError{std::move(message)};
}

// The strict decoder stops where the bytes run out when a file was cut short: say so, since
// "truncated" is what the admin needs to hear (an interrupted download or copy).
bool looksTruncated(const protocol::BDecodeError& failure, std::size_t inputSize) {
    return failure.offset >= inputSize || failure.message == "string length beyond the input";
}

template <std::size_t N>
bool digest(const EVP_MD* algorithm, std::string_view bytes, unsigned char (&out)[N]) {
    unsigned int length = 0;
    return EVP_Digest(bytes.data(), bytes.size(), out, &length, algorithm, nullptr) == 1 &&
           length == N;
}

std::string hexOf(const unsigned char* bytes, std::size_t size) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 15]);
    }
    return out;
}

void addUrl(std::vector<std::string>& urls, const BValue* value) {
    const std::string* url = value == nullptr ? nullptr : value->asString();
    if (url != nullptr && !url->empty() && std::find(urls.begin(), urls.end(), *url) == urls.end())
        urls.push_back(*url);
}

std::vector<std::string> announceUrls(const BValue& root) {
    std::vector<std::string> urls;
    addUrl(urls, root.find("announce"));
    const BValue* tiers = root.find("announce-list");
    if (tiers != nullptr && tiers->asList() != nullptr) {
        for (const BValue& tier : *tiers->asList()) {
            if (tier.asList() == nullptr)
                continue;
            for (const BValue& url : *tier.asList())
                addUrl(urls, &url);
        }
    }
    return urls;
}

// BEP 47: padding files (attr contains 'p') only align pieces; they are not content.
bool isPaddingFile(const BValue& file) {
    const BValue* attr = file.find("attr");
    return attr != nullptr && attr->asString() != nullptr &&
           attr->asString()->find('p') != std::string::npos;
}

// Fills size and file count from `length` (one file) or `files` (several); a message on error.
std::string readSize(const BValue& info, TorrentFile& torrent) {
    const BValue* files = info.find("files");
    if (files != nullptr) {
        if (files->asList() == nullptr || files->asList()->empty())
            return "info `files` is not a non-empty list";
        for (const BValue& file : *files->asList()) {
            const BValue* length = file.find("length");
            if (length == nullptr || length->asInt() == nullptr || *length->asInt() < 0)
                return "a file in info `files` has no valid `length`";
            auto size = static_cast<std::uint64_t>(*length->asInt());
            if (size > std::numeric_limits<std::uint64_t>::max() - torrent.totalSize)
                return "info `files` lengths add up beyond 2^64 bytes";
            if (isPaddingFile(file))
                continue;
            torrent.totalSize += size;
            ++torrent.fileCount;
        }
        if (torrent.fileCount == 0)
            return "info `files` holds only padding files: no content";
        return "";
    }
    const BValue* length = info.find("length");
    if (length == nullptr)
        return "info has neither `length` (one file) nor `files` (several)";
    if (length->asInt() == nullptr || *length->asInt() < 0)
        return "info `length` is not a non-negative integer";
    torrent.totalSize = static_cast<std::uint64_t>(*length->asInt());
    torrent.fileCount = 1;
    return "";
}

const std::string* nameOf(const BValue& info) {
    // Some creators put a UTF-8 copy beside a `name` in a local code page.
    for (const char* key : {"name.utf-8", "name"}) {
        const BValue* name = info.find(key);
        if (name != nullptr && name->asString() != nullptr)
            return name->asString();
    }
    return nullptr;
}

}  // namespace

std::variant<TorrentFile, TorrentFileError> parseTorrentFile(std::string_view bytes) {
    if (bytes.empty())
        return error("empty file: not a .torrent");
    auto decoded = protocol::bdecode(bytes, kMaxDepth);
    if (const auto* failure = std::get_if<protocol::BDecodeError>(&decoded)) {
        if (looksTruncated(*failure, bytes.size())) {
            return error("truncated: the file ends inside a bencoded value after " +
                         std::to_string(bytes.size()) + " bytes (" + failure->message +
                         "); was the download or copy complete?");
        }
        return error("not a bencoded .torrent: " + failure->message + " at byte offset " +
                     std::to_string(failure->offset));
    }
    const BValue& root = std::get<BValue>(decoded);
    if (root.asDict() == nullptr)
        return error("not a .torrent: the top-level value is not a dictionary");
    const BValue* info = root.find("info");
    if (info == nullptr)
        return error("not a .torrent: no `info` dictionary (a magnet link or other bencode?)");
    if (info->asDict() == nullptr)
        return error("not a .torrent: `info` is not a dictionary");

    std::int64_t metaVersion = 1;
    if (const BValue* version = info->find("meta version")) {
        if (version->asInt() == nullptr)
            return error("info `meta version` is not an integer");
        metaVersion = *version->asInt();
    }
    if (metaVersion != 1 && metaVersion != 2) {
        return error("unsupported info `meta version` " + std::to_string(metaVersion) + ": " +
                     kSupportedTorrents);
    }
    const BValue* pieces = info->find("pieces");
    if (pieces == nullptr && metaVersion == 2) {
        return error("a pure BitTorrent v2 torrent (meta version 2, no v1 `pieces`): " +
                     std::string(kSupportedTorrents) +
                     ". Create it as a hybrid torrent to serve it here.");
    }
    if (pieces == nullptr)
        return error("info has no `pieces`: not a complete v1 torrent");
    if (pieces->asString() == nullptr || pieces->asString()->size() % 20 != 0)
        return error("info `pieces` is not a string of 20-byte SHA-1 hashes");

    TorrentFile torrent;
    torrent.hybrid = metaVersion == 2;
    const std::string* name = nameOf(*info);
    if (name == nullptr)
        return error("info has no `name` string");
    torrent.name = *name;
    if (std::string sizeError = readSize(*info, torrent); !sizeError.empty())
        return error(sizeError);
    const BValue* isPrivate = info->find("private");
    torrent.isPrivate =
        isPrivate != nullptr && isPrivate->asInt() != nullptr && *isPrivate->asInt() == 1;
    torrent.announceUrls = announceUrls(root);

    // The hash covers the info dict's bytes exactly as written, not a re-encoding.
    std::string_view infoBytes = bytes.substr(info->begin, info->end - info->begin);
    unsigned char sha1[20];
    if (!digest(EVP_sha1(), infoBytes, sha1))
        return error("SHA-1 failed in OpenSSL libcrypto");
    std::copy(sha1, sha1 + 20, reinterpret_cast<unsigned char*>(torrent.infoHash.data()));
    if (torrent.hybrid) {
        unsigned char sha256[32];
        if (!digest(EVP_sha256(), infoBytes, sha256))
            return error("SHA-256 failed in OpenSSL libcrypto");
        torrent.v2InfoHashHex = hexOf(sha256, sizeof sha256);
    }
    return torrent;
}

}  // namespace tracker::torrent
