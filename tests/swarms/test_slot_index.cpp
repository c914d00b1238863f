// The open-addressing index of slots, plain and tagged: after any run of inserts, moves and
// erases it finds exactly what a plain map holds, even when every key hashes alike (long
// clusters, the backward shift at work), and it gives its room back when emptied. And the
// direct map of torrent ids.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "swarms/seeded_hash.h"
#include "swarms/slot_index.h"
#include "swarms/tid_map.h"

using tracker::swarms::SlotIndex;
using tracker::swarms::TaggedSlotIndex;
using tracker::swarms::TidMap;

TEMPLATE_TEST_CASE("the index finds what a plain map holds after any run of changes", "", SlotIndex,
                   TaggedSlotIndex) {
    for (int spread : {1, 7, 1 << 20}) {  // 1: every key in one cluster
        std::mt19937 rng(static_cast<unsigned>(spread));
        // slot -> key; the key is what is hashed, the slot what the index holds.
        std::map<std::uint32_t, std::uint32_t> keyOf;
        auto hashOfKey = [&](std::uint32_t key) {
            return tracker::swarms::mixBits(key % static_cast<std::uint32_t>(spread));
        };
        auto hashOfSlot = [&](std::uint32_t slot) { return hashOfKey(keyOf.at(slot)); };
        TestType index;
        std::map<std::uint32_t, std::uint32_t> slotOf;  // key -> slot
        std::uint32_t nextSlot = 0;
        for (int op = 0; op < 4000; ++op) {
            auto key = std::uniform_int_distribution<std::uint32_t>(0, 300)(rng);
            int what = std::uniform_int_distribution<int>(0, 2)(rng);
            auto found = index.find(hashOfKey(key),
                                    [&](std::uint32_t slot) { return keyOf.at(slot) == key; });
            REQUIRE(found == (slotOf.count(key) ? slotOf[key] : TestType::kNone));
            if (what == 0 && !slotOf.count(key)) {
                keyOf[nextSlot] = key;
                index.insert(hashOfKey(key), nextSlot, hashOfSlot);
                slotOf[key] = nextSlot++;
            } else if (what == 1 && slotOf.count(key)) {
                index.erase(hashOfKey(key), slotOf[key], hashOfSlot);
                keyOf.erase(slotOf[key]);
                slotOf.erase(key);
            } else if (what == 2 && slotOf.count(key)) {
                std::uint32_t to = nextSlot++;
                keyOf[to] = key;
                index.move(hashOfKey(key), slotOf[key], to);
                keyOf.erase(slotOf[key]);
                slotOf[key] = to;
            }
            REQUIRE(index.size() == slotOf.size());
        }
        for (const auto& [key, slot] : slotOf) {
            CHECK(index.find(hashOfKey(key), [&](std::uint32_t s) { return keyOf.at(s) == key; }) ==
                  slot);
        }
        while (!slotOf.empty()) {
            auto [key, slot] = *slotOf.begin();
            index.erase(hashOfKey(key), slot, hashOfSlot);
            keyOf.erase(slot);
            slotOf.erase(key);
        }
        CHECK(index.bytes() == 0);
    }
}

TEMPLATE_TEST_CASE("two keys trading slots are both found where they went", "", SlotIndex,
                   TaggedSlotIndex) {
    TestType index;
    std::map<std::uint32_t, std::uint32_t> keyOf{{0, 10}, {1, 11}, {2, 12}};
    auto hashOfSlot = [](std::uint32_t) { return std::uint64_t{7}; };  // one cluster
    for (std::uint32_t slot = 0; slot < 3; ++slot)
        index.insert(7, slot, hashOfSlot);
    std::swap(keyOf[0], keyOf[2]);
    index.swap(7, 0, 7, 2);
    for (std::uint32_t key : {10u, 11u, 12u}) {
        std::uint32_t slot = index.find(7, [&](std::uint32_t s) { return keyOf.at(s) == key; });
        REQUIRE(slot != TestType::kNone);
        CHECK(keyOf.at(slot) == key);
    }
}

TEST_CASE("the tid map finds what was set, and gives back the pages it emptied") {
    TidMap map;
    CHECK(map.find(1) == TidMap::kNone);
    std::size_t empty = map.bytes();
    for (std::uint32_t tid = 1; tid <= 10000; ++tid)
        map.set(tid, tid * 3);
    map.set(4000000000u, 7);  // far out: its own page
    for (std::uint32_t tid = 1; tid <= 10000; ++tid)
        REQUIRE(map.find(tid) == tid * 3);
    CHECK(map.find(10001) == TidMap::kNone);
    CHECK(map.find(4000000000u) == 7);
    CHECK(map.find(4000000001u) == TidMap::kNone);
    map.set(5, 99);  // overwritten, not counted twice
    CHECK(map.find(5) == 99);
    std::size_t full = map.bytes();
    for (std::uint32_t tid = 1; tid <= 10000; ++tid)
        map.erase(tid);
    map.erase(12345);  // never set
    CHECK(map.find(5) == TidMap::kNone);
    CHECK(map.bytes() < full / 2);
    CHECK(map.find(4000000000u) == 7);
    map.erase(4000000000u);
    CHECK(map.bytes() <= empty + 2 * 8192);  // the two directories are kept, no page
}
