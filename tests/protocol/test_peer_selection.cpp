// Peer selection: never self, seeders get leechers, crypto respected, at most numwant, random.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "protocol/peer_selection.h"

using namespace tracker::protocol;

namespace {

// Candidates whose views point into a stable list of uids.
struct Swarm {
    std::vector<std::string> uids;
    std::vector<PeerCandidate> candidates;

    explicit Swarm(std::size_t capacity) { uids.reserve(capacity); }

    void add(bool seeder, bool requiresCrypto = false) {
        REQUIRE(uids.size() < uids.capacity());  // views must not dangle
        uids.push_back("u" + std::to_string(uids.size()));
        PeerCandidate c;
        c.uid = uids.back();
        c.peerId = "-XX0001-aaaaaaaaaaaa";
        c.address = *PeerAddress::parse("8.8.8." + std::to_string(uids.size()));
        c.port = static_cast<std::uint16_t>(6881 + uids.size());
        c.seeder = seeder;
        c.requiresCrypto = requiresCrypto;
        candidates.push_back(c);
    }
};

// Checks what holds for every selection: indexes in range, no duplicates, at most numwant.
std::set<std::size_t> checkedSet(const std::vector<std::size_t>& chosen, const Swarm& swarm,
                                 std::size_t numwant) {
    std::set<std::size_t> unique(chosen.begin(), chosen.end());
    CHECK(unique.size() == chosen.size());
    CHECK(chosen.size() <= numwant);
    for (auto i : chosen)
        CHECK(i < swarm.candidates.size());
    return unique;
}

}  // namespace

TEST_CASE("selectPeers never hands out the asking peer", "[peer_selection]") {
    Swarm swarm(4);
    swarm.add(false);
    swarm.add(false);
    swarm.add(true);
    swarm.add(false);
    SelectionRules rules;
    rules.selfUid = "u1";
    rules.numwant = 50;
    std::mt19937_64 rng(1);
    auto chosen = selectPeers(swarm.candidates, rules, rng);
    auto set = checkedSet(chosen, swarm, 50);
    CHECK(set == std::set<std::size_t>{0, 2, 3});

    // The match is on the whole uid, not a prefix.
    rules.selfUid = "u";
    auto all = checkedSet(selectPeers(swarm.candidates, rules, rng), swarm, 50);
    CHECK(all == std::set<std::size_t>{0, 1, 2, 3});
}

TEST_CASE("selectPeers: a seeder gets leechers only, a leecher gets both", "[peer_selection]") {
    Swarm swarm(6);
    swarm.add(true);   // 0 seeder
    swarm.add(false);  // 1 leecher
    swarm.add(true);   // 2 seeder
    swarm.add(false);  // 3 leecher
    swarm.add(false);  // 4 leecher (self)
    swarm.add(true);   // 5 seeder
    std::mt19937_64 rng(2);

    SelectionRules seeder;
    seeder.selfUid = "u4";
    seeder.selfIsSeeder = true;
    seeder.numwant = 50;
    CHECK(checkedSet(selectPeers(swarm.candidates, seeder, rng), swarm, 50) ==
          std::set<std::size_t>{1, 3});

    SelectionRules leecher;
    leecher.selfUid = "u4";
    leecher.selfIsSeeder = false;
    leecher.numwant = 50;
    CHECK(checkedSet(selectPeers(swarm.candidates, leecher, rng), swarm, 50) ==
          std::set<std::size_t>{0, 1, 2, 3, 5});
}

TEST_CASE("selectPeers respects requirecrypto peers", "[peer_selection]") {
    Swarm swarm(4);
    swarm.add(false, false);  // 0
    swarm.add(false, true);   // 1 requires crypto
    swarm.add(true, true);    // 2 requires crypto
    swarm.add(true, false);   // 3
    std::mt19937_64 rng(3);

    SelectionRules plain;
    plain.selfUid = "self";
    plain.selfCanDoCrypto = false;
    plain.numwant = 50;
    CHECK(checkedSet(selectPeers(swarm.candidates, plain, rng), swarm, 50) ==
          std::set<std::size_t>{0, 3});

    SelectionRules crypto = plain;
    crypto.selfCanDoCrypto = true;
    CHECK(checkedSet(selectPeers(swarm.candidates, crypto, rng), swarm, 50) ==
          std::set<std::size_t>{0, 1, 2, 3});

    // Both rules at once: a seeder that cannot do crypto gets the plain leechers only.
    SelectionRules plainSeeder = plain;
    plainSeeder.selfIsSeeder = true;
    CHECK(checkedSet(selectPeers(swarm.candidates, plainSeeder, rng), swarm, 50) ==
          std::set<std::size_t>{0});
}

TEST_CASE("selectPeers: numwant bounds", "[peer_selection]") {
    Swarm swarm(30);
    for (int i = 0; i < 30; ++i)
        swarm.add(i % 2 == 0);
    std::mt19937_64 rng(4);
    SelectionRules rules;
    rules.selfUid = "nobody";

    rules.numwant = 0;
    CHECK(selectPeers(swarm.candidates, rules, rng).empty());

    rules.numwant = 1;
    CHECK(selectPeers(swarm.candidates, rules, rng).size() == 1);

    rules.numwant = 7;
    auto seven = selectPeers(swarm.candidates, rules, rng);
    CHECK(seven.size() == 7);
    checkedSet(seven, swarm, 7);

    rules.numwant = 30;
    CHECK(checkedSet(selectPeers(swarm.candidates, rules, rng), swarm, 30).size() == 30);

    rules.numwant = 1000;
    CHECK(checkedSet(selectPeers(swarm.candidates, rules, rng), swarm, 1000).size() == 30);

    // A seeder asking for 10 of 15 leechers gets 10 leechers.
    rules.selfIsSeeder = true;
    rules.numwant = 10;
    auto leechers = selectPeers(swarm.candidates, rules, rng);
    CHECK(leechers.size() == 10);
    for (auto i : checkedSet(leechers, swarm, 10))
        CHECK_FALSE(swarm.candidates[i].seeder);
}

TEST_CASE("selectPeers: empty swarm", "[peer_selection]") {
    std::vector<PeerCandidate> none;
    std::mt19937_64 rng(5);
    SelectionRules rules;
    rules.numwant = 50;
    CHECK(selectPeers(none, rules, rng).empty());

    Swarm onlySelf(1);
    onlySelf.add(false);
    rules.selfUid = "u0";
    CHECK(selectPeers(onlySelf.candidates, rules, rng).empty());
}

TEST_CASE("selectPeers picks a random subset, not always the first", "[peer_selection]") {
    Swarm swarm(40);
    for (int i = 0; i < 40; ++i)
        swarm.add(i % 4 == 0, i % 5 == 0);  // mixed
    SelectionRules rules;
    rules.selfUid = "u3";
    rules.selfIsSeeder = false;
    rules.selfCanDoCrypto = false;
    rules.numwant = 5;

    std::set<std::size_t> qualifying;
    for (std::size_t i = 0; i < swarm.candidates.size(); ++i) {
        const auto& c = swarm.candidates[i];
        if (c.uid != rules.selfUid && !c.requiresCrypto)
            qualifying.insert(i);
    }
    REQUIRE(qualifying.size() == 31);

    std::mt19937_64 rng(20240601);
    std::set<std::size_t> everChosen;
    std::set<std::vector<std::size_t>> distinctResults;
    for (int run = 0; run < 300; ++run) {
        auto chosen = selectPeers(swarm.candidates, rules, rng);
        REQUIRE(chosen.size() == 5);
        for (auto i : checkedSet(chosen, swarm, 5)) {
            CHECK(qualifying.count(i) == 1);
            everChosen.insert(i);
        }
        distinctResults.insert(chosen);
    }
    CHECK(everChosen == qualifying);
    CHECK(distinctResults.size() > 100);
}
