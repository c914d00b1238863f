// The scrape request: every info_hash in the query string; none means a full scrape.
#pragma once

#include <cstddef>
#include <string_view>
#include <variant>
#include <vector>

#include "announce_request.h"
#include "failure.h"

namespace tracker::protocol {

struct ScrapeRequest {
    std::vector<InfoHash> infoHashes;  // in request order, duplicates removed
    bool full() const { return infoHashes.empty(); }
};

// Refuses an info_hash that is not 20 bytes (#2) or has a malformed escape, and more than
// maxHashes hashes in one request.
std::variant<ScrapeRequest, Failure> parseScrape(std::string_view rawQuery, std::size_t maxHashes);

}  // namespace tracker::protocol
