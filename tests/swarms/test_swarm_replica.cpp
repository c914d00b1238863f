// The in-memory replica of the swarms: registry answers, exact counts, seeders handed leechers
// only, windows that wrap, and a state that matches a plain model after any run of changes.
// No database.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <string>

#include "swarms/swarm_replica.h"

using tracker::protocol::InfoHash;
using tracker::swarms::StoredPeer;
using tracker::swarms::SwarmReplica;
using Found = SwarmReplica::Found;

namespace {

InfoHash hashOf(int n) {
    InfoHash hash{};
    hash[0] = static_cast<char>(n);
    hash[19] = static_cast<char>(n >> 8);
    return hash;
}

SwarmReplica::Torrent torrent(std::uint32_t tid, bool banned = false, std::int64_t downloaded = 0) {
    SwarmReplica::Torrent t;
    t.tid = tid;
    t.banned = banned;
    t.downloaded = downloaded;
    return t;
}

SwarmReplica::PeerChange peer(std::uint32_t tid, int id, bool seeder, std::uint16_t port = 6881) {
    SwarmReplica::PeerChange change;
    change.tid = tid;
    change.peer.uid.assign("u" + std::to_string(id));
    change.peer.peerId.assign("-XX0001-" + std::to_string(id));
    change.peer.address = *tracker::protocol::PeerAddress::parse("10.0.0.1");
    change.peer.port = port;
    change.peer.seeder = seeder;
    return change;
}

SwarmReplica::PeerChange gone(std::uint32_t tid, int id) {
    SwarmReplica::PeerChange change;
    change.present = false;
    change.tid = tid;
    change.peer.uid.assign("u" + std::to_string(id));
    return change;
}

std::multiset<std::string> uidsOf(const SwarmReplica::Answer& answer) {
    std::multiset<std::string> uids;
    for (const StoredPeer& p : answer.peers)
        uids.insert(std::string(p.uid.view()));
    return uids;
}

}  // namespace

TEST_CASE("the replica answers unknown, banned and registered torrents apart") {
    SwarmReplica replica;
    replica.replaceAll({{hashOf(1), torrent(10)}, {hashOf(2), torrent(20, true)}}, {});
    CHECK(replica.find(hashOf(3), false, 50, 0).found == Found::Unknown);
    auto banned = replica.find(hashOf(2), false, 50, 0);
    CHECK(banned.found == Found::Banned);
    CHECK(banned.peers.empty());
    auto empty = replica.find(hashOf(1), false, 50, 0);
    CHECK(empty.found == Found::Registered);
    CHECK(empty.tid == 10);
    CHECK(empty.counts.complete == 0);
    CHECK(empty.counts.incomplete == 0);
    CHECK(empty.peers.empty());
}

TEST_CASE("counts are exact and a seeder is handed leechers only") {
    SwarmReplica replica;
    replica.replaceAll(
        {{hashOf(1), torrent(10, false, 7)}},
        {peer(10, 1, true), peer(10, 2, true), peer(10, 3, false), peer(11, 4, false)});
    auto leecher = replica.find(hashOf(1), false, 50, 12345);
    CHECK(leecher.counts.complete == 2);
    CHECK(leecher.counts.incomplete == 1);
    CHECK(leecher.counts.downloaded == 7);
    CHECK(uidsOf(leecher) == std::multiset<std::string>{"u1", "u2", "u3"});
    auto seeder = replica.find(hashOf(1), true, 50, 12345);
    CHECK(uidsOf(seeder) == std::multiset<std::string>{"u3"});
    CHECK(replica.stats().peers == 4);
    CHECK(replica.stats().torrents == 1);
}

TEST_CASE("a window smaller than the swarm is that many distinct peers, wrapping round") {
    SwarmReplica replica;
    std::vector<SwarmReplica::PeerChange> peers;
    for (int i = 0; i < 30; ++i)
        peers.push_back(peer(10, i, i % 3 == 0));
    replica.replaceAll({{hashOf(1), torrent(10)}}, peers);
    for (std::uint32_t point : {0u, 7u, 28u, 29u, 1000u}) {
        auto answer = replica.find(hashOf(1), false, 5, point);
        auto uids = uidsOf(answer);
        CHECK(answer.peers.size() == 5);
        CHECK(std::set<std::string>(uids.begin(), uids.end()).size() == 5);
    }
    auto leechers = replica.find(hashOf(1), true, 19, 15);
    CHECK(leechers.peers.size() == 19);
    for (const StoredPeer& p : leechers.peers)
        CHECK_FALSE(p.seeder);
}

TEST_CASE("peers join at random places, so a run of the list is a sample") {
    SwarmReplica replica;
    replica.replaceAll({{hashOf(1), torrent(10)}}, {});
    std::vector<SwarmReplica::PeerChange> joins;
    for (int i = 0; i < 100; ++i)
        joins.push_back(peer(10, i, false));
    replica.apply(joins);
    auto all = replica.find(hashOf(1), false, 100, 0);
    REQUIRE(all.peers.size() == 100);
    bool inJoinOrder = true;
    for (int i = 0; i < 100; ++i)
        inJoinOrder = inJoinOrder && all.peers[i].uid.view() == "u" + std::to_string(i);
    CHECK_FALSE(inJoinOrder);  // 1 chance in 100! of a false alarm
}

TEST_CASE("changes in order: update in place, turn seeder, leave, come back") {
    SwarmReplica replica;
    replica.replaceAll({{hashOf(1), torrent(10)}}, {peer(10, 1, false), peer(10, 2, false)});
    replica.apply({peer(10, 1, false, 7000)});
    auto answer = replica.find(hashOf(1), false, 50, 0);
    CHECK(answer.counts.incomplete == 2);
    for (const StoredPeer& p : answer.peers)
        if (p.uid.view() == "u1")
            CHECK(p.port == 7000);

    replica.apply({peer(10, 1, true)});
    answer = replica.find(hashOf(1), false, 50, 0);
    CHECK(answer.counts.complete == 1);
    CHECK(answer.counts.incomplete == 1);

    replica.apply({gone(10, 1), gone(10, 99), peer(10, 3, true), gone(10, 3)});
    answer = replica.find(hashOf(1), false, 50, 0);
    CHECK(answer.counts.complete == 0);
    CHECK(uidsOf(answer) == std::multiset<std::string>{"u2"});
    CHECK(replica.stats().peers == 1);

    replica.apply({peer(10, 1, false)});
    CHECK(uidsOf(replica.find(hashOf(1), false, 50, 0)) == std::multiset<std::string>{"u1", "u2"});
}

TEST_CASE("a registry reload bans, registers and keeps the peers") {
    SwarmReplica replica;
    replica.replaceAll({{hashOf(1), torrent(10)}}, {peer(10, 1, false)});
    replica.apply({peer(20, 2, true)});  // before its torrent is in the registry
    CHECK(replica.find(hashOf(2), false, 50, 0).found == Found::Unknown);
    replica.replaceRegistry({{hashOf(1), torrent(10, true)}, {hashOf(2), torrent(20, false, 3)}});
    CHECK(replica.find(hashOf(1), false, 50, 0).found == Found::Banned);
    auto second = replica.find(hashOf(2), false, 50, 0);
    CHECK(second.found == Found::Registered);
    CHECK(second.counts.complete == 1);
    CHECK(second.counts.downloaded == 3);
    replica.replaceRegistry({{hashOf(1), torrent(10)}});
    CHECK(replica.find(hashOf(1), false, 50, 0).counts.incomplete == 1);
}

TEST_CASE("after any run of changes the replica holds what a plain model holds") {
    std::mt19937 rng(20261125);
    for (int round = 0; round < 20; ++round) {
        SwarmReplica replica;
        SwarmReplica::Registry registry;
        for (int t = 1; t <= 4; ++t)
            registry.push_back({hashOf(t), torrent(static_cast<std::uint32_t>(t))});
        replica.replaceAll(registry, {});
        std::map<std::pair<std::uint32_t, int>, bool> model;  // (tid, id) -> seeder
        for (int op = 0; op < 400; ++op) {
            std::vector<SwarmReplica::PeerChange> batch;
            int size = std::uniform_int_distribution<int>(1, 8)(rng);
            for (int i = 0; i < size; ++i) {
                auto tid =
                    static_cast<std::uint32_t>(std::uniform_int_distribution<int>(1, 4)(rng));
                int id = std::uniform_int_distribution<int>(0, 40)(rng);
                int what = std::uniform_int_distribution<int>(0, 4)(rng);
                if (what == 0) {
                    batch.push_back(gone(tid, id));
                    model.erase({tid, id});
                } else {
                    bool seeder = what <= 2;
                    batch.push_back(peer(tid, id, seeder));
                    model[{tid, id}] = seeder;
                }
            }
            replica.apply(batch);
        }
        std::size_t total = 0;
        for (int t = 1; t <= 4; ++t) {
            std::multiset<std::string> seeders, leechers;
            for (const auto& [key, seeder] : model)
                if (key.first == static_cast<std::uint32_t>(t))
                    (seeder ? seeders : leechers).insert("u" + std::to_string(key.second));
            total += seeders.size() + leechers.size();
            auto all = replica.find(hashOf(t), false, 1000, 0);
            CHECK(all.counts.complete == static_cast<std::int64_t>(seeders.size()));
            CHECK(all.counts.incomplete == static_cast<std::int64_t>(leechers.size()));
            std::multiset<std::string> both = seeders;
            both.insert(leechers.begin(), leechers.end());
            CHECK(uidsOf(all) == both);
            CHECK(uidsOf(replica.find(hashOf(t), true, 1000, 0)) == leechers);
        }
        CHECK(replica.stats().peers == total);
    }
}
