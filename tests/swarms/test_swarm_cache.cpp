// The swarm cache: a read serves for its TTL and no longer, per swarm and per kind of read,
// and memory stays bounded. No database.
#include <catch2/catch.hpp>

#include "swarms/swarm_cache.h"

using namespace std::chrono_literals;
using tracker::protocol::InfoHash;
using tracker::swarms::PeerList;
using tracker::swarms::StoredPeer;
using tracker::swarms::SwarmCache;
using tracker::swarms::SwarmView;

namespace {

InfoHash hashOf(int n) {
    InfoHash hash{};
    hash[0] = static_cast<std::uint8_t>(n);
    hash[19] = static_cast<std::uint8_t>(n >> 8);
    return hash;
}

std::shared_ptr<const SwarmView> viewWith(std::uint32_t tid, std::size_t peers) {
    auto view = std::make_shared<SwarmView>();
    view->registry = SwarmView::Registry::Registered;
    view->tid = tid;
    view->peers = PeerList(std::make_shared<const std::vector<StoredPeer>>(peers));
    return view;
}

}  // namespace

TEST_CASE("a cached read serves until its TTL is up, then is gone") {
    SwarmCache cache(750ms);
    auto t0 = SwarmCache::Clock::now();
    CHECK(cache.find(hashOf(1), false, t0) == nullptr);
    cache.put(hashOf(1), false, viewWith(7, 3), t0);

    auto hit = cache.find(hashOf(1), false, t0 + 500ms);
    REQUIRE(hit != nullptr);
    CHECK(hit->tid == 7);
    CHECK(hit->peers.size() == 3);
    CHECK(cache.find(hashOf(1), false, t0 + 750ms) == nullptr);
    CHECK(cache.find(hashOf(1), false, t0 + 10s) == nullptr);
}

TEST_CASE("near its end one caller re-reads a view while the others are still served it") {
    SwarmCache cache(800ms);
    auto t0 = SwarmCache::Clock::now();
    cache.put(hashOf(1), false, viewWith(7, 3), t0);
    CHECK(cache.find(hashOf(1), false, t0 + 599ms) != nullptr);
    // The last quarter: the first caller is sent to read it again...
    CHECK(cache.find(hashOf(1), false, t0 + 600ms) == nullptr);
    // ...the others meanwhile get the view, never past its TTL.
    CHECK(cache.find(hashOf(1), false, t0 + 610ms) != nullptr);
    CHECK(cache.find(hashOf(1), false, t0 + 799ms) != nullptr);
    CHECK(cache.find(hashOf(1), false, t0 + 800ms) == nullptr);
    // A refresh that never comes back (a failed read): the view still ends at its TTL, and
    // then every caller reads.
    cache.put(hashOf(2), false, viewWith(8, 1), t0);
    CHECK(cache.find(hashOf(2), false, t0 + 600ms) == nullptr);
    CHECK(cache.find(hashOf(2), false, t0 + 790ms) != nullptr);
    CHECK(cache.find(hashOf(2), false, t0 + 800ms) == nullptr);
    CHECK(cache.find(hashOf(2), false, t0 + 801ms) == nullptr);
    // The fresh read replaces it and is served whole again.
    cache.put(hashOf(1), false, viewWith(9, 2), t0 + 620ms);
    auto fresh = cache.find(hashOf(1), false, t0 + 1000ms);
    REQUIRE(fresh != nullptr);
    CHECK(fresh->tid == 9);
}

TEST_CASE("the cache keeps swarms and the seeders' leechers-only reads apart") {
    SwarmCache cache(1s);
    auto now = SwarmCache::Clock::now();
    cache.put(hashOf(1), false, viewWith(1, 5), now);
    cache.put(hashOf(2), true, viewWith(2, 1), now);
    CHECK(cache.find(hashOf(1), true, now) == nullptr);
    CHECK(cache.find(hashOf(2), false, now) == nullptr);
    auto all = cache.find(hashOf(1), false, now);
    auto leechers = cache.find(hashOf(2), true, now);
    REQUIRE(all != nullptr);
    REQUIRE(leechers != nullptr);
    CHECK(all->tid == 1);
    CHECK(leechers->tid == 2);

    // A fresher read replaces the older one.
    cache.put(hashOf(1), false, viewWith(9, 2), now + 500ms);
    auto fresher = cache.find(hashOf(1), false, now + 1200ms);
    REQUIRE(fresher != nullptr);
    CHECK(fresher->tid == 9);
    CHECK(cache.entries() == 2);
}

TEST_CASE("the cache forgets expired reads and stays within its peer budget") {
    SwarmCache cache(100ms, 3200);  // 32 shards of about 100 peers
    auto now = SwarmCache::Clock::now();
    for (int i = 0; i < 1000; ++i)
        cache.put(hashOf(i), false, viewWith(i, 50), now);
    // Each shard holds at most 101 peers: one 50-peer view (51 with its own slot).
    CHECK(cache.entries() == 32);

    // Minutes later, new reads sweep the expired ones out (1000 reads reach every shard).
    auto later = now + 60s;
    for (int i = 2000; i < 3000; ++i)
        cache.put(hashOf(i), false, viewWith(i, 0), later);
    CHECK(cache.entries() == 1000);
    for (int i = 0; i < 1000; ++i)
        CHECK(cache.find(hashOf(i), false, later) == nullptr);
}
