#include "scrape_request.h"

#include <algorithm>
#include <cstring>

namespace tracker::protocol {

std::variant<ScrapeRequest, Failure> parseScrape(std::string_view rawQuery, std::size_t maxHashes) {
    const QueryString query = QueryString::parse(rawQuery);
    ScrapeRequest request;
    for (const QueryParam* param : query.all("info_hash")) {
        if (param->malformed) {
            return makeFailure(FailureCode::Unnumbered, "malformed percent-escape in info_hash");
        }
        InfoHash hash{};
        if (param->value.size() != hash.size()) {
            return makeFailure(
                FailureCode::InfoHashLength,
                "info_hash is " + std::to_string(param->value.size()) + " bytes, not 20");
        }
        std::memcpy(hash.data(), param->value.data(), hash.size());
        if (std::find(request.infoHashes.begin(), request.infoHashes.end(), hash) !=
            request.infoHashes.end()) {
            continue;
        }
        if (request.infoHashes.size() == maxHashes) {
            return makeFailure(FailureCode::Unnumbered,
                               "too many info_hash values in one scrape (at most " +
                                   std::to_string(maxHashes) + ")");
        }
        request.infoHashes.push_back(hash);
    }
    return request;
}

}  // namespace tracker::protocol
