// The swarm state in MySQL/MariaDB, on the PHP tracker's tables plus our migrations (counters
// in tracker_swarms, a random window index on peers). The only code that speaks SQL on the hot
// path.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "db/connection_pool.h"
#include "feed/peer_writer.h"
#include "feed/replica_feed.h"
#include "store/swarm_store.h"
#include "swarms/swarm_cache.h"

namespace tracker::store {

// How far an announce may trade freshness for speed. All off (the default) is the plain path:
// the announce's own write, then a read that sees it (3 round trips).
struct SwarmStoreOptions {
    // Reuse one read of a swarm (registry row, counts, candidates) for this long: announces to a
    // swarm read in the last moment cost no round trip. 0 = read on every announce.
    std::chrono::milliseconds swarmCacheTtl{0};
    // Candidates kept per cached read: enough for the largest numwant.
    std::uint32_t cachedCandidates = 201;
    // Queue the announce's write here instead of writing it in the request. Null = write now.
    feed::PeerWriter* writer = nullptr;
    // Answer from this process's replica of the swarms and the registry while it is fresh (an
    // unknown hash gets #5 from it); else as above. Null = no replica.
    feed::ReplicaFeed* replica = nullptr;
    // A `started` announce that finds nobody else in its swarm waits up to meetWait for what
    // other processes answered at the same moment: until its replica has pulled what they had
    // written othersFlush (their flush interval) after it arrived. At most meetWaiters
    // announces wait at once. 0 = never.
    std::chrono::milliseconds meetWait{0};
    std::chrono::milliseconds othersFlush{0};
    std::uint32_t meetWaiters = 4;
    // A re-announce that changes nothing but the time and `left`, of a peer whose row this
    // process wrote less than this long ago, is not written at once: the row is written once
    // this long after that write, with the latest such announce's time and `left` (see
    // feed::QuietTouches). Needs the writer and the replica. 0 = write every announce.
    std::chrono::seconds quietWrite{0};
};

class MysqlSwarmStore : public SwarmStore {
  public:
    explicit MysqlSwarmStore(db::ConnectionPool& pool, SwarmStoreOptions options = {});

    AnnounceOutcome announce(const protocol::AnnounceRequest& request,
                             std::uint32_t candidates) override;
    ScrapeOutcome scrape(const std::vector<protocol::InfoHash>& infoHashes) override;
    AnswerSources answerSources() const override;
    ReadOutcome scrapeAll(const ScrapeSink& sink) override;

  private:
    AnnounceOutcome announceReadFirst(const protocol::AnnounceRequest& request,
                                      std::uint32_t candidates);
    // A `started` announce that found nothing to download from (see
    // SwarmStoreOptions::meetWait).
    bool worthAwaitingOthers(const protocol::AnnounceRequest& request,
                             const swarms::SwarmReplica::Answer& answer) const;
    // Waits for the other processes' announces of the moment; true when the replica has
    // pulled them, and the swarm is worth reading again.
    bool awaitOthers(swarms::SwarmCache::Clock::time_point arrived);
    // Records the announce to registered torrent `tid` (its row `pid`, when known; none at all,
    // `knownAbsent`, as far as a fresh replica tells) and answers with what was read of it. A
    // `holdFor` above zero holds the write back that long at most (PeerWriter::hold).
    AnnounceOutcome recordAndAnswer(const protocol::AnnounceRequest& request, std::uint32_t tid,
                                    const protocol::SwarmCounts& counts, PeerList peers,
                                    std::uint32_t candidates, std::uint32_t pid,
                                    bool knownAbsent = false,
                                    std::chrono::steady_clock::duration holdFor = {});
    // How long the write of this announce may wait (zero: queue it now): a re-announce that
    // changes nothing the replica holds, of a row this process wrote less than quietWrite ago.
    std::chrono::steady_clock::duration quietWait(const protocol::AnnounceRequest& request,
                                                  bool changesReplica,
                                                  const swarms::SwarmReplica::Answer& answer,
                                                  std::uint8_t nowTick) const;

    db::ConnectionPool& pool_;
    SwarmStoreOptions options_;
    std::unique_ptr<swarms::SwarmCache> cache_;  // null when swarmCacheTtl is 0
    struct {
        std::atomic<std::uint64_t> replica{0}, cache{0}, database{0};
    } answeredFrom_;
    std::atomic<std::uint32_t> meetWaiting_{0};
    std::atomic<std::uint64_t> meetWaits_{0};
};

}  // namespace tracker::store
