// Serves one tracker request: routes /announce and /scrape, validates with the protocol core,
// asks the store, encodes the answer. Knows nothing of FastCGI or SQL. Thread-safe: one
// instance serves every worker thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"
#include "service/full_scrape_cache.h"
#include "service/http_types.h"
#include "store/swarm_store.h"

namespace tracker::service {

class TrackerService {
  public:
    TrackerService(const Config& config, store::SwarmStore& store);

    HttpResponse handle(const HttpRequest& request);

    HttpResponse announce(std::string_view query, std::string_view remoteAddr);
    HttpResponse scrape(std::string_view query);

  private:
    HttpResponse fullScrape();

    Config config_;
    protocol::AnnouncePolicy policy_;
    store::SwarmStore& store_;
    FullScrapeCache fullScrapeCache_;
};

// Which endpoint a path names, by its last segment: `/announce`, `/tracker/announce` and the
// PHP's `/announce.php` are all the announce.
enum class Endpoint { Announce, Scrape, Unknown };
Endpoint endpointFor(std::string_view path);

}  // namespace tracker::service
