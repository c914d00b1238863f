// The bencoded bodies a tracker sends: announce, scrape and failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "announce_request.h"
#include "failure.h"
#include "peer_selection.h"

namespace tracker::protocol {

struct SwarmCounts {
    std::int64_t complete = 0;    // seeders
    std::int64_t incomplete = 0;  // leechers
    std::int64_t downloaded = 0;  // completions ever counted
};

struct Intervals {
    std::int64_t interval = 900;     // the PHP's maxInterval
    std::int64_t minInterval = 300;  // the PHP's minInterval
};

// `d14:failure reason...e`, alone, as clients expect.
std::string encodeFailure(const Failure& failure);

// The announce answer. IPv4 peers go in `peers` (6 bytes each when compact, else dicts with
// `ip`, `port` and, unless no_peer_id, `peer id`); IPv6 peers go in `peers6` (18 bytes each)
// and never in `peers`. `crypto_flags` (one byte per IPv4 compact peer, 1 = requires crypto)
// is sent when the client sent supportcrypto/requirecrypto; `external ip` is the connection's
// address (BEP 24).
std::string encodeAnnounce(const AnnounceRequest& request, const SwarmCounts& counts,
                           const Intervals& intervals, const std::vector<PeerCandidate>& candidates,
                           const std::vector<std::size_t>& chosen);

struct ScrapeEntry {
    InfoHash infoHash{};
    SwarmCounts counts;
    std::string name;
};

// `files` keyed by raw info hash (sorted), `flags` with min_request_interval. Nothing to list
// gives the PHP's failure `No results were found.`.
std::string encodeScrape(std::vector<ScrapeEntry> entries, std::int64_t minRequestInterval);

// The same answer written a piece at a time, for a scrape too big to hold (the full scrape):
// entries come in ascending info hash order; one that does not come after the last is left
// out, so the dict stays valid bencode whatever the caller feeds it.
class ScrapeStreamEncoder {
  public:
    explicit ScrapeStreamEncoder(std::int64_t minRequestInterval)
        : minRequestInterval_(minRequestInterval) {}
    // Appends the entry's bytes (and the answer's head, before the first one) to `out`.
    void add(const ScrapeEntry& entry, std::string& out);
    // Appends the answer's tail (or the whole failure, when nothing was added).
    void finish(std::string& out);
    std::size_t entries() const { return entries_; }

  private:
    std::int64_t minRequestInterval_;
    std::size_t entries_ = 0;
    InfoHash last_{};
};

}  // namespace tracker::protocol
