// This process's own announces, applied to its replica ahead of the feed, remembered while a
// pull could still bring an older version of the same peer: one whose number is at or below
// the counter the primary had committed before the announce was written (its `floor`). A feed
// reading a database replica that lags reads such versions for as long as the lag; applied
// after the announce, they would put the peer back as it was (a stopped peer returning, a
// seeder turned leecher) until the announce's own write came through. Once the feed has
// applied everything up to a floor, nothing older can come, and the entry goes. Empty while
// the feed keeps up. A completion is kept the same way: the torrent's row from before it would
// take back its count (its own change, numbered above the floor, brings the whole row). Not
// thread-safe: the feed guards it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "swarms/swarm_replica.h"

namespace tracker::feed {

class OwnWrites {
  public:
    using PeerChange = swarms::SwarmReplica::PeerChange;
    using TorrentChange = swarms::SwarmReplica::TorrentChange;

    // The announce `change`, written after the primary's counter read `floor`.
    void note(const PeerChange& change, std::uint64_t floor);
    // A completion counted in torrent `tid`, written after the counter read `floor`.
    void noteCompletion(std::uint32_t tid, std::uint64_t floor);
    // Removes from `changes` (numbered `numbers`, the same length) those older than a noted
    // announce of the same peer, or a noted completion of the same torrent (not a removal).
    std::size_t filter(std::vector<PeerChange>& changes, std::vector<std::uint64_t>& numbers) const;
    std::size_t filter(std::vector<TorrentChange>& changes,
                       std::vector<std::uint64_t>& numbers) const;
    // The feed has applied every change up to `applied`: entries with a floor at or below it
    // can meet nothing older any more.
    void passed(std::uint64_t applied);
    std::size_t size() const { return floors_.size() + completions_.size(); }
    bool empty() const { return size() == 0; }

  private:
    static std::string key(std::uint32_t tid, std::string_view uid);
    std::unordered_map<std::string, std::uint64_t> floors_;
    std::unordered_map<std::uint32_t, std::uint64_t> completions_;
};

}  // namespace tracker::feed
