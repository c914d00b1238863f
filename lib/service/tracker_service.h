// Serves one tracker request: routes /announce and /scrape, validates with the protocol core,
// asks the store, encodes the answer. Knows nothing of FastCGI or SQL. Thread-safe: one
// instance serves every worker thread.
#pragma once

#include <atomic>
#include <cstdint>
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
    // Takes what can change while serving from `config` (the intervals, numwant, requireKey,
    // allowIpParam, the scrape's interval and size, who reads the stats): requests from now
    // on see it. The rest of `config` is ignored (it takes a restart).
    void reload(const Config& config, AddressAllowlist statsReaders);

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

    // What a reload changes, swapped whole: a request reads one version throughout.
    struct Settings {
        protocol::AnnouncePolicy policy;
        protocol::Intervals intervals;
        std::uint32_t scrapeInterval = 0;
        std::uint32_t maxScrapeHashes = 0;
        AddressAllowlist statsReaders;
    };
    static std::shared_ptr<const Settings> settingsOf(const Config& config,
                                                      AddressAllowlist statsReaders);
    std::shared_ptr<const Settings> settings() const { return std::atomic_load(&settings_); }

    std::shared_ptr<const Settings> settings_;
    store::SwarmStore& store_;
    Metrics metrics_;
    // Last: its thread calls writeFullScrape, which uses the members above.
    std::unique_ptr<FullScrape> fullScrape_;  // null when fullScrape is off
};

// Which endpoint a path names, by its last segment: `/announce`, `/tracker/announce` and the
// PHP's `/announce.php` are all the announce; `/stats` and `/metrics` the live stats.
enum class Endpoint { Announce, Scrape, Stats, Metrics, Unknown };
Endpoint endpointFor(std::string_view path);

}  // namespace tracker::service
