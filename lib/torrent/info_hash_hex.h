// Info hashes as the admin types and reads them: 40 hexadecimal digits.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/announce_request.h"

namespace tracker::torrent {

// Lower-case hex of the 20 bytes.
std::string toHex(const protocol::InfoHash& hash);

// The hash spelled by exactly 40 hex digits (either case); nullopt for anything else.
std::optional<protocol::InfoHash> parseHexInfoHash(std::string_view text);

}  // namespace tracker::torrent
