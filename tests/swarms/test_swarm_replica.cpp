// The in-memory replica of the swarms: registry answers and changes, exact counts, seeders
// handed leechers only, windows that wrap, a resync that drops what it did not see, a state that
// matches a plain model after any run of changes, and the size of it all. No database.
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

SwarmReplica::TorrentChange torrent(int n, std::uint32_t tid, bool banned = false,
                                    std::int64_t downloaded = 0) {
    SwarmReplica::TorrentChange t;
    t.tid = tid;
    t.infoHash = hashOf(n);
    t.banned = banned;
    t.downloaded = downloaded;
    return t;
}

SwarmReplica::TorrentChange removed(std::uint32_t tid) {
    SwarmReplica::TorrentChange t;
    t.present = false;
    t.tid = tid;
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
    replica.applyTorrents({torrent(1, 10), torrent(2, 20, true)});
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
    replica.applyTorrents({torrent(1, 10, false, 7), torrent(2, 11)});
    replica.apply({peer(10, 1, true), peer(10, 2, true), peer(10, 3, false), peer(11, 4, false)});
    auto leecher = replica.find(hashOf(1), false, 50, 12345);
    CHECK(leecher.counts.complete == 2);
    CHECK(leecher.counts.incomplete == 1);
    CHECK(leecher.counts.downloaded == 7);
    CHECK(uidsOf(leecher) == std::multiset<std::string>{"u1", "u2", "u3"});
    auto seeder = replica.find(hashOf(1), true, 50, 12345);
    CHECK(uidsOf(seeder) == std::multiset<std::string>{"u3"});
    CHECK(replica.stats().peers == 4);
    CHECK(replica.stats().torrents == 2);
}

TEST_CASE("what a peer is handed back is what was written, IPv6 and crypto included") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10)});
    auto six = peer(10, 1, false, 51413);
    six.peer.address = *tracker::protocol::PeerAddress::parse("2001:db8::7");
    six.peer.requiresCrypto = true;
    six.peer.peerId.assign(std::string("-qB4250-\0\xff\x01zzzzzzzzz", 20));
    replica.apply({six});
    auto answer = replica.find(hashOf(1), false, 50, 0);
    REQUIRE(answer.peers.size() == 1);
    const StoredPeer& back = answer.peers[0];
    CHECK(back.uid.view() == "u1");
    CHECK(back.peerId.view() == six.peer.peerId.view());
    CHECK(back.address == six.peer.address);
    CHECK_FALSE(back.address.isV4());
    CHECK(back.port == 51413);
    CHECK(back.requiresCrypto);
    CHECK_FALSE(back.seeder);
}

TEST_CASE("a window smaller than the swarm is that many distinct peers, wrapping round") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10)});
    std::vector<SwarmReplica::PeerChange> peers;
    for (int i = 0; i < 30; ++i)
        peers.push_back(peer(10, i, i % 3 == 0));
    replica.apply(peers);
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
    replica.applyTorrents({torrent(1, 10)});
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
    // The first ten from a random point, over many draws, reach every peer.
    std::set<std::string> reached;
    for (std::uint32_t point = 0; point < 100; point += 10)
        for (const StoredPeer& p : replica.find(hashOf(1), false, 10, point).peers)
            reached.insert(std::string(p.uid.view()));
    CHECK(reached.size() == 100);
}

TEST_CASE("changes in order: update in place, turn seeder, leave, come back") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10)});
    replica.apply({peer(10, 1, false), peer(10, 2, false)});
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

TEST_CASE("the asking peer is found by its uid; a write without its row keeps the row") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10)});
    auto written = peer(10, 1, false);
    written.peer.pid = 4242;
    replica.apply({written, peer(10, 2, false)});
    auto answer = replica.find(hashOf(1), false, 50, 0, "u1");
    REQUIRE(answer.self);
    CHECK(answer.self->pid == 4242);
    CHECK_FALSE(answer.self->seeder);
    CHECK_FALSE(replica.find(hashOf(1), false, 50, 0, "u9").self);

    // This process's own announce, before its write came back: pid 0, the row stays 4242,
    // also when it moves to the seeders.
    replica.apply({peer(10, 1, false, 7000)});
    CHECK(replica.find(hashOf(1), false, 50, 0, "u1").self->pid == 4242);
    replica.apply({peer(10, 1, true)});
    answer = replica.find(hashOf(1), false, 50, 0, "u1");
    CHECK(answer.self->pid == 4242);
    CHECK(answer.self->seeder);
    // A new peer's own announce has no row yet; the feed then brings it.
    replica.apply({peer(10, 3, false)});
    CHECK(replica.find(hashOf(1), false, 50, 0, "u3").self->pid == 0);
    auto arrived = peer(10, 3, false);
    arrived.peer.pid = 4243;
    replica.apply({arrived});
    CHECK(replica.find(hashOf(1), false, 50, 0, "u3").self->pid == 4243);
}

TEST_CASE("a peer's written tick is stamped in place and outlives the feed's rewrites") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10)});
    replica.apply({peer(10, 1, false)});
    CHECK(replica.find(hashOf(1), false, 0, 0, "u1").self->writtenTick == 0);  // not known

    replica.markWritten(10, "u1", 17);
    CHECK(replica.find(hashOf(1), false, 0, 0, "u1").self->writtenTick == 17);
    replica.markWritten(10, "u9", 18);  // not held: nothing happens
    replica.markWritten(99, "u1", 18);  // nor in a torrent not held
    CHECK_FALSE(replica.find(hashOf(1), false, 0, 0, "u9").self);

    // The feed brings the row (it knows no tick): the row is the same one, still written then,
    // also when the peer turned seeder.
    auto fromFeed = peer(10, 1, true, 7000);
    fromFeed.peer.pid = 5;
    replica.apply({fromFeed});
    auto self = replica.find(hashOf(1), false, 0, 0, "u1").self;
    CHECK(self->writtenTick == 17);
    CHECK(self->port == 7000);
    // This process's own changed announce brings its own tick.
    auto own = peer(10, 1, true, 7001);
    own.peer.writtenTick = 40;
    replica.apply({own});
    CHECK(replica.find(hashOf(1), false, 0, 0, "u1").self->writtenTick == 40);
    // Gone and back: a new row, not known to be written.
    replica.apply({gone(10, 1), peer(10, 1, false)});
    CHECK(replica.find(hashOf(1), false, 0, 0, "u1").self->writtenTick == 0);
}

TEST_CASE("the registry follows changes: register, ban, unban, count, re-key, remove") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10)});
    replica.apply({peer(10, 1, false), peer(20, 2, true)});  // 20 is not registered: ignored
    CHECK(replica.stats().peers == 1);
    CHECK(replica.find(hashOf(2), false, 50, 0).found == Found::Unknown);

    replica.applyTorrents({torrent(2, 20, false, 3), torrent(1, 10, true)});
    CHECK(replica.find(hashOf(1), false, 50, 0).found == Found::Banned);
    auto second = replica.find(hashOf(2), false, 50, 0);
    CHECK(second.found == Found::Registered);
    CHECK(second.counts.downloaded == 3);
    CHECK(second.peers.empty());

    // Unbanned: the peers were kept all along. A completion moves the count.
    replica.applyTorrents({torrent(1, 10, false, 1)});
    auto first = replica.find(hashOf(1), false, 50, 0);
    CHECK(first.counts.incomplete == 1);
    CHECK(first.counts.downloaded == 1);

    // Its row given another hash (by hand): found by the new one only, peers kept.
    replica.applyTorrents({torrent(3, 10, false, 1)});
    CHECK(replica.find(hashOf(1), false, 50, 0).found == Found::Unknown);
    CHECK(replica.find(hashOf(3), false, 50, 0).counts.incomplete == 1);

    // Removed: its peers go with it; registered again under a new tid, it starts empty.
    replica.applyTorrents({removed(10), removed(99)});
    CHECK(replica.find(hashOf(3), false, 50, 0).found == Found::Unknown);
    CHECK(replica.stats().peers == 0);
    CHECK(replica.stats().torrents == 1);
    replica.applyTorrents({torrent(3, 11)});
    CHECK(replica.find(hashOf(3), false, 50, 0).tid == 11);
    CHECK(replica.find(hashOf(3), false, 50, 0).peers.empty());

    // A hash taken over by another tid (its old row is gone) answers with the new one.
    replica.applyTorrents({torrent(3, 12)});
    CHECK(replica.find(hashOf(3), false, 50, 0).tid == 12);
    CHECK(replica.stats().torrents == 2);  // 12 and 20
}

TEST_CASE("a resync keeps serving and then drops what it did not see") {
    SwarmReplica replica;
    replica.applyTorrents({torrent(1, 10), torrent(2, 20), torrent(3, 30)});
    std::vector<SwarmReplica::PeerChange> peers;
    for (int i = 0; i < 40; ++i)
        peers.push_back(peer(i % 2 == 0 ? 10 : 20, i, i % 4 == 0));
    peers.push_back(peer(30, 100, false));
    replica.apply(peers);
    REQUIRE(replica.stats().peers == 41);

    replica.beginResync();
    // Serving all along, with everything it held.
    CHECK(replica.find(hashOf(1), false, 50, 0).peers.size() == 20);
    // What the database still has: torrents 1 and 3, and the even peers of 1 but u0.
    replica.applyTorrents({torrent(1, 10), torrent(3, 30)});
    std::vector<SwarmReplica::PeerChange> seen;
    for (int i = 2; i < 40; i += 2)
        seen.push_back(peer(10, i, i % 4 == 0));
    replica.apply(seen);
    CHECK(replica.find(hashOf(2), false, 50, 0).found == Found::Registered);
    auto swept = replica.endResync();
    CHECK(swept.torrents == 1);
    CHECK(swept.peers == 1 + 20 + 1);  // u0, torrent 2's twenty, torrent 3's u100
    CHECK(replica.find(hashOf(2), false, 50, 0).found == Found::Unknown);
    auto first = replica.find(hashOf(1), false, 50, 0);
    CHECK(first.peers.size() == 19);
    CHECK(uidsOf(first).count("u0") == 0);
    CHECK(first.counts.complete == 9);  // u4, u8, ... u36
    CHECK(replica.find(hashOf(3), false, 50, 0).peers.empty());
    CHECK(replica.stats().peers == 19);

    // The next resync starts from what is there now.
    replica.beginResync();
    replica.applyTorrents({torrent(1, 10), torrent(3, 30)});
    replica.apply(seen);
    CHECK(replica.endResync().peers == 0);
    CHECK(replica.stats().peers == 19);
}

TEST_CASE("after any run of changes the replica holds what a plain model holds") {
    std::mt19937 rng(20261201);
    for (int round = 0; round < 20; ++round) {
        SwarmReplica replica;
        std::map<std::uint32_t, int> torrents;                // tid -> hash number
        std::map<std::pair<std::uint32_t, int>, bool> model;  // (tid, id) -> seeder
        // Up to 60 peers a swarm: swarms cross the size where they get an index, both ways.
        int peerIds = round % 2 == 0 ? 60 : 12;
        for (int op = 0; op < 600; ++op) {
            if (std::uniform_int_distribution<int>(0, 40)(rng) == 0 || torrents.empty()) {
                auto tid =
                    static_cast<std::uint32_t>(std::uniform_int_distribution<int>(1, 6)(rng));
                if (torrents.count(tid) && std::uniform_int_distribution<int>(0, 1)(rng) == 0) {
                    replica.applyTorrents({removed(tid)});
                    torrents.erase(tid);
                    for (auto it = model.begin(); it != model.end();)
                        it = it->first.first == tid ? model.erase(it) : std::next(it);
                } else if (!torrents.count(tid)) {
                    replica.applyTorrents({torrent(static_cast<int>(tid), tid)});
                    torrents[tid] = static_cast<int>(tid);
                }
                continue;
            }
            std::vector<SwarmReplica::PeerChange> batch;
            int size = std::uniform_int_distribution<int>(1, 8)(rng);
            for (int i = 0; i < size; ++i) {
                auto tid =
                    static_cast<std::uint32_t>(std::uniform_int_distribution<int>(1, 6)(rng));
                int id = std::uniform_int_distribution<int>(0, peerIds)(rng);
                int what = std::uniform_int_distribution<int>(0, 4)(rng);
                if (what == 0) {
                    batch.push_back(gone(tid, id));
                    model.erase({tid, id});
                } else {
                    bool seeder = what <= 2;
                    batch.push_back(peer(tid, id, seeder));
                    if (torrents.count(tid))
                        model[{tid, id}] = seeder;
                }
            }
            replica.apply(batch);
        }
        std::size_t total = 0;
        for (std::uint32_t tid = 1; tid <= 6; ++tid) {
            auto all = replica.find(hashOf(static_cast<int>(tid)), false, 1000, 0);
            if (!torrents.count(tid)) {
                CHECK(all.found == Found::Unknown);
                continue;
            }
            std::multiset<std::string> seeders, leechers;
            for (const auto& [key, seeder] : model)
                if (key.first == tid)
                    (seeder ? seeders : leechers).insert("u" + std::to_string(key.second));
            total += seeders.size() + leechers.size();
            CHECK(all.counts.complete == static_cast<std::int64_t>(seeders.size()));
            CHECK(all.counts.incomplete == static_cast<std::int64_t>(leechers.size()));
            std::multiset<std::string> both = seeders;
            both.insert(leechers.begin(), leechers.end());
            CHECK(uidsOf(all) == both);
            auto onlyLeechers = replica.find(hashOf(static_cast<int>(tid)), true, 1000, 0);
            CHECK(uidsOf(onlyLeechers) == leechers);
            for (const StoredPeer& p : all.peers)
                CHECK(p.seeder == (seeders.count(std::string(p.uid.view())) == 1));
        }
        CHECK(replica.stats().peers == total);
        CHECK(replica.stats().torrents == torrents.size());
    }
}

TEST_CASE("a peer takes at most 80 bytes and a torrent 150, whatever the swarm sizes") {
    // Many small swarms (the usual site) and a few big ones (where the index costs).
    for (auto [torrents, perTorrent] : {std::pair{20000, 5}, std::pair{10, 10000}}) {
        SwarmReplica replica;
        std::vector<SwarmReplica::TorrentChange> registry;
        for (int t = 1; t <= torrents; ++t) {
            auto change = torrent(0, static_cast<std::uint32_t>(t));
            change.infoHash[1] = static_cast<char>(t);
            change.infoHash[2] = static_cast<char>(t >> 8);
            change.infoHash[3] = static_cast<char>(t >> 16);
            registry.push_back(change);
        }
        replica.applyTorrents(registry);
        std::vector<SwarmReplica::PeerChange> peers;
        for (int i = 0; i < torrents * perTorrent; ++i)  // arriving as a load reads them
            peers.push_back(peer(static_cast<std::uint32_t>(i % torrents + 1), i, i % 2 == 0));
        replica.apply(peers);
        auto stats = replica.stats();
        REQUIRE(stats.peers == peers.size());
        INFO(torrents << " torrents of " << perTorrent << " peers: " << stats.bytes << " bytes");
        CHECK(stats.bytes <= 80 * stats.peers + 150 * stats.torrents);
    }
}
