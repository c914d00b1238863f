// The swarm state in MySQL/MariaDB, on the PHP tracker's tables plus our migrations (counters
// on torrents, a random window index on peers). The only code that speaks SQL on the hot path.
#pragma once

#include <random>

#include "store/connection_pool.h"
#include "store/swarm_store.h"

namespace tracker::store {

class MysqlSwarmStore : public SwarmStore {
  public:
    explicit MysqlSwarmStore(ConnectionPool& pool) : pool_(pool) {}

    AnnounceOutcome announce(const protocol::AnnounceRequest& request,
                             std::uint32_t candidates) override;
    ScrapeOutcome scrape(const std::vector<protocol::InfoHash>& infoHashes) override;
    ScrapeOutcome scrapeAll() override;

  private:
    ConnectionPool& pool_;
};

}  // namespace tracker::store
