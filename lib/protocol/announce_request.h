// The announce request, validated and typed. Built once at the edge from the raw query string;
// nothing past this point sees request bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "failure.h"
#include "peer_address.h"
#include "query_string.h"

namespace tracker::protocol {

using InfoHash = std::array<char, 20>;
using PeerId = std::array<char, 20>;

inline std::string_view view(const std::array<char, 20>& bytes) {
    return {bytes.data(), bytes.size()};
}

enum class AnnounceEvent { Regular, Started, Completed, Stopped, Paused };

// The parts of the configuration that decide how a request is read.
struct AnnouncePolicy {
    bool requireKey = false;    // true restores the PHP's #1 for a missing `key`
    bool allowIpParam = false;  // true honours a public `ip` parameter (BEP 7 discourages it)
    std::uint32_t numwantDefault = 50;
    std::uint32_t numwantMax = 200;
};

struct AnnounceRequest {
    InfoHash infoHash{};
    PeerId peerId{};
    std::uint16_t port = 0;  // `cryptoport` when sent, else `port`
    std::uint64_t uploaded = 0;
    std::uint64_t downloaded = 0;
    std::uint64_t left = 0;
    AnnounceEvent event = AnnounceEvent::Regular;
    bool compact = true;  // BEP 23: compact unless the client asks `compact=0`
    bool noPeerId = false;
    std::uint32_t numwant = 50;     // after default and cap
    std::string uid;                // the stored identity (`peers.uid`), see deriveUid
    PeerAddress address;            // where other peers reach this one
    PeerAddress connectionAddress;  // REMOTE_ADDR, for `external ip`
    bool supportCrypto = false;
    bool requireCrypto = false;
    bool sentCryptoParams = false;  // supportcrypto or requirecrypto present: answer crypto_flags
    std::optional<std::string> warning;  // e.g. an ignored `ip` parameter

    bool isSeeder() const { return left == 0; }
    bool canDoCrypto() const { return supportCrypto || requireCrypto; }
};

// Reads an announce from the raw query string and the connection's address (REMOTE_ADDR).
// Checks in the PHP's order: every missing field (#1), info_hash (#2), peer_id (#3), port (#4),
// then our own checks (numbers, event, escapes). The first of a repeated key is used.
std::variant<AnnounceRequest, Failure> parseAnnounce(std::string_view rawQuery,
                                                     std::string_view remoteAddr,
                                                     const AnnouncePolicy& policy);

// The identity stored in `peers.uid` (varbinary(10)), unique per torrent:
// - a `key` of 1-10 characters from [A-Za-z0-9._-] is used as it is (every common client);
// - any other key becomes `!` + 9 characters derived from it (stable, same key -> same uid);
// - no key becomes `~` + 9 characters derived from the peer_id and the connection's address
//   (REMOTE_ADDR, never a claimed `ip`), so that
//   someone who learns a peer_id elsewhere cannot stop or rewrite that peer's row.
std::string deriveUid(std::optional<std::string_view> key, std::string_view peerId,
                      const PeerAddress& address);

}  // namespace tracker::protocol
