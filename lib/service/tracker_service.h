// Serves one tracker request: routes /announce and /scrape, validates with the protocol core,
// asks the store, encodes the answer. Knows nothing of FastCGI or SQL. Thread-safe: one
// instance serves every worker thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"
#include "service/address_allowlist.h"
#include "service/full_scrape.h"
#include "service/http_types.h"
#include "service/metrics.h"
#include "store/swarm_store.h"

namespace tracker::service {

class TrackerService {
  public:
    // `statsReaders`: who may read /stats and /metrics; `poolStats`: the database pool's
    // figures for them (may be empty).
    TrackerService(const Config& config, store::SwarmStore& store, AddressAllowlist statsReaders,
                   std::function<db::PoolStats()> poolStats = {});

    HttpResponse handle(const HttpRequest& request);
    Metrics& metrics() { return metrics_; }

    HttpResponse announce(std::string_view query, std::string_view remoteAddr);
    HttpResponse scrape(std::string_view query, std::string_view acceptEncoding = {});

  private:
    HttpResponse fullScrape(std::string_view acceptEncoding);
    // The full scrape's bencoded answer, from the store a chunk at a time (FullScrape's
    // builder, on its thread).
    bool writeFullScrape(const std::function<void(std::string_view)>& write);
    // A bencoded failure, counted by reason.
    HttpResponse refuse(const protocol::Failure& failure);
    HttpResponse refuse(store::StoreStatus status, std::string_view why);

    Config config_;
    protocol::AnnouncePolicy policy_;
    store::SwarmStore& store_;
    AddressAllowlist statsReaders_;
    Metrics metrics_;
    // Last: its thread calls writeFullScrape, which uses the members above.
    std::unique_ptr<FullScrape> fullScrape_;  // null when fullScrape is off
};

// Which endpoint a path names, by its last segment: `/announce`, `/tracker/announce` and the
// PHP's `/announce.php` are all the announce; `/stats` and `/metrics` the live stats.
enum class Endpoint { Announce, Scrape, Stats, Metrics, Unknown };
Endpoint endpointFor(std::string_view path);

}  // namespace tracker::service
