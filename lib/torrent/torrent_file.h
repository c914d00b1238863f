// A .torrent file (BEP 3 metainfo) read for registration: its v1 info hash, name, size and
// trackers. BitTorrent v2 (BEP 52): hybrid torrents are taken by their v1 hash; pure v2 refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/announce_request.h"

namespace tracker::torrent {

struct TorrentFile {
    protocol::InfoHash infoHash{};  // SHA-1 of the info dict's exact bytes: what clients announce
    std::string name;               // raw bytes from `name.utf-8` or `name` (meant to be UTF-8)
    std::uint64_t totalSize = 0;    // `length`, or the sum of `files[].length`
    std::size_t fileCount = 0;
    std::vector<std::string> announceUrls;  // `announce` then `announce-list`, without repeats
    bool isPrivate = false;                 // info.private = 1 (BEP 27)
    // A v1 + v2 hybrid: v2 clients may also announce the truncated v2 hash, which is not
    // registered (the `torrents.infohash` column holds one 20-byte hash per torrent).
    bool hybrid = false;
    std::string v2InfoHashHex;  // SHA-256 of the info dict, hybrids only (for information)
};

struct TorrentFileError {
    std::string message;  // says what is wrong, with the byte offset when the bencode is bad
};

// Which torrents this tracker serves, for error messages and help texts.
extern const char* const kSupportedTorrents;

// Reads a whole .torrent file's bytes. Never throws on bad input.
std::variant<TorrentFile, TorrentFileError> parseTorrentFile(std::string_view bytes);

}  // namespace tracker::torrent
