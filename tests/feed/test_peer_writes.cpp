// Folding a write-behind batch to one write per peer: last write wins, a download is counted
// once, and the order is the same for every writer. No database.
#include <catch2/catch.hpp>

#include "feed/peer_writer.h"

using tracker::feed::coalescePeerWrites;
using tracker::feed::PeerWrite;

namespace {

PeerWrite upsert(std::uint32_t tid, const char* uid, std::uint64_t left,
                 std::uint16_t port = 6881) {
    PeerWrite write;
    write.tid = tid;
    write.uid.assign(uid);
    write.left = left;
    write.port = port;
    return write;
}

PeerWrite completed(std::uint32_t tid, const char* uid) {
    PeerWrite write = upsert(tid, uid, 0);
    write.completed = true;
    return write;
}

PeerWrite stopped(std::uint32_t tid, const char* uid) {
    PeerWrite write = upsert(tid, uid, 0);
    write.kind = PeerWrite::Kind::Delete;
    return write;
}

}  // namespace

TEST_CASE("a batch folds to one write per peer, the last one, in (tid, uid) order") {
    auto folded =
        coalescePeerWrites({upsert(2, "b", 10, 1000), upsert(1, "z", 5), upsert(2, "a", 7),
                            upsert(2, "b", 3, 2000), upsert(1, "z", 4)});
    REQUIRE(folded.size() == 3);
    CHECK(folded[0].tid == 1);
    CHECK(folded[0].uid == "z");
    CHECK(folded[0].left == 4);
    CHECK(folded[1].tid == 2);
    CHECK(folded[1].uid == "a");
    CHECK(folded[2].uid == "b");
    CHECK(folded[2].left == 3);
    CHECK(folded[2].port == 2000);
    CHECK(coalescePeerWrites({}).empty());
}

TEST_CASE("whether a folded write looks its row up is a matter of the batch's first write") {
    PeerWrite fresh = upsert(1, "n", 10);
    fresh.knownAbsent = true;  // a fresh replica held no such peer before the batch
    PeerWrite again = upsert(1, "n", 5);
    auto folded = coalescePeerWrites({fresh, again});
    REQUIRE(folded.size() == 1);
    CHECK(folded[0].knownAbsent);
    CHECK(folded[0].left == 5);

    PeerWrite known = upsert(1, "k", 10);
    PeerWrite later = upsert(1, "k", 5);
    later.knownAbsent = true;
    folded = coalescePeerWrites({known, later});
    REQUIRE(folded.size() == 1);
    CHECK_FALSE(folded[0].knownAbsent);
}

TEST_CASE("the same uid in two swarms is two peers") {
    auto folded = coalescePeerWrites({upsert(1, "k", 1), upsert(2, "k", 2)});
    REQUIRE(folded.size() == 2);
    CHECK(folded[0].left == 1);
    CHECK(folded[1].left == 2);
}

TEST_CASE("a stop after an announce deletes; an announce after a stop re-inserts") {
    auto gone = coalescePeerWrites({upsert(1, "p", 9), stopped(1, "p")});
    REQUIRE(gone.size() == 1);
    CHECK(gone[0].kind == PeerWrite::Kind::Delete);

    auto back = coalescePeerWrites({stopped(1, "p"), upsert(1, "p", 9)});
    REQUIRE(back.size() == 1);
    CHECK(back[0].kind == PeerWrite::Kind::Upsert);
}

// What the old one-announce-at-a-time path counted: a completed from a peer the table does
// not hold as a seeder is a download; from a seeder it is a repeat.
TEST_CASE("completions in a batch count as they would have one by one") {
    SECTION("the first completion is judged against the table") {
        auto folded = coalescePeerWrites({completed(1, "p")});
        REQUIRE(folded.size() == 1);
        CHECK(folded[0].completed);
        CHECK(folded[0].moreCompletions == 0);
    }
    SECTION("after a leecher announce in the same batch it counts outright") {
        auto folded =
            coalescePeerWrites({upsert(1, "p", 100), completed(1, "p"), upsert(1, "p", 0)});
        REQUIRE(folded.size() == 1);
        CHECK_FALSE(folded[0].completed);
        CHECK(folded[0].moreCompletions == 1);
        CHECK(folded[0].left == 0);
    }
    SECTION("completed sent twice: the second is a repeat") {
        auto folded = coalescePeerWrites({completed(1, "p"), completed(1, "p")});
        REQUIRE(folded.size() == 1);
        CHECK(folded[0].completed);
        CHECK(folded[0].moreCompletions == 0);
    }
    SECTION("a seeder announcing completed is not a new download") {
        auto folded = coalescePeerWrites({upsert(1, "p", 0), completed(1, "p")});
        REQUIRE(folded.size() == 1);
        CHECK_FALSE(folded[0].completed);
        CHECK(folded[0].moreCompletions == 0);
    }
    SECTION("completed then stopped: the download counts and the row goes") {
        auto folded = coalescePeerWrites({completed(1, "p"), stopped(1, "p")});
        REQUIRE(folded.size() == 1);
        CHECK(folded[0].completed);
        CHECK(folded[0].kind == PeerWrite::Kind::Delete);
    }
    SECTION("completed, stopped, completed: two downloads") {
        auto folded = coalescePeerWrites({completed(1, "p"), stopped(1, "p"), completed(1, "p")});
        REQUIRE(folded.size() == 1);
        CHECK(folded[0].completed);
        CHECK(folded[0].moreCompletions == 1);
        CHECK(folded[0].kind == PeerWrite::Kind::Upsert);
    }
    SECTION("a seeder that stops and completes again: one download, like the old path") {
        auto folded = coalescePeerWrites({stopped(1, "p"), completed(1, "p")});
        REQUIRE(folded.size() == 1);
        CHECK_FALSE(folded[0].completed);
        CHECK(folded[0].moreCompletions == 1);
    }
    SECTION("a batch that failed and comes back keeps its completions, counted once") {
        auto first = coalescePeerWrites({upsert(1, "p", 9), completed(1, "p")});
        REQUIRE(first.size() == 1);
        std::vector<PeerWrite> retry = first;
        retry.push_back(upsert(1, "p", 0));  // a seeder announce queued meanwhile
        auto folded = coalescePeerWrites(retry);
        REQUIRE(folded.size() == 1);
        CHECK(int(folded[0].completed) + folded[0].moreCompletions == 1);
    }
    SECTION("other peers' completions are their own") {
        auto folded = coalescePeerWrites({completed(1, "p"), completed(1, "q"), upsert(1, "r", 5)});
        REQUIRE(folded.size() == 3);
        CHECK(folded[0].completed);
        CHECK(folded[1].completed);
        CHECK_FALSE(folded[2].completed);
        CHECK(folded[2].moreCompletions == 0);
    }
}
