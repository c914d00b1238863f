// Reading a database replica: its lag told from the feed's counter sampled on the primary, the
// choice of server (the bound, an unreachable replica, the way back), the own announces a
// lagging replica must not undo, and the `database.replica` settings. No database.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <variant>

#include "config/config.h"
#include "feed/own_writes.h"
#include "feed/read_choice.h"
#include "feed/replica_lag.h"

using namespace std::chrono_literals;
using tracker::feed::OwnWrites;
using tracker::feed::ReadChoice;
using tracker::feed::ReplicaLag;
using Server = ReadChoice::Server;
using Reason = ReadChoice::Reason;

namespace {

const ReplicaLag::Clock::time_point t0 = ReplicaLag::Clock::time_point{} + 1h;

OwnWrites::PeerChange peer(std::uint32_t tid, const char* uid, bool present = true) {
    OwnWrites::PeerChange change;
    change.tid = tid;
    change.present = present;
    change.peer.uid.assign(uid);
    return change;
}

}  // namespace

TEST_CASE("the replica's lag is the age of the newest primary sample it has reached") {
    ReplicaLag lag(10s);
    CHECK(lag.lagAt(t0, 0) == 0ms);  // nothing known yet
    lag.samplePrimary(t0, 100);
    lag.samplePrimary(t0 + 250ms, 120);
    lag.samplePrimary(t0 + 500ms, 150);
    CHECK(lag.lagAt(t0 + 510ms, 150) == 10ms);  // caught up: the last sample
    CHECK(lag.lagAt(t0 + 510ms, 200) == 10ms);  // ahead of the sample (read later): the same
    CHECK(lag.lagAt(t0 + 510ms, 149) == 260ms);
    CHECK(lag.lagAt(t0 + 510ms, 120) == 260ms);
    CHECK(lag.lagAt(t0 + 510ms, 100) == 510ms);
    // Reached no sample kept: at least as old as the oldest.
    CHECK(lag.lagAt(t0 + 510ms, 99) == 510ms);
    CHECK(lag.lagAt(t0 + 5s, 99) == 5s);
    CHECK_FALSE(lag.reached(99));
    CHECK(lag.reached(100));
}

TEST_CASE("an idle primary's counter, sampled again, keeps a caught-up replica at no lag") {
    ReplicaLag lag(10s);
    lag.samplePrimary(t0, 100);
    lag.samplePrimary(t0 + 3s, 100);  // nothing written meanwhile
    CHECK(lag.lagAt(t0 + 3s, 100) == 0ms);
    // One behind: it has not got what the primary had at t0.
    CHECK(lag.lagAt(t0 + 3s, 99) == 3s);
}

TEST_CASE("old samples are forgotten, and lag beyond the window reads as beyond it") {
    ReplicaLag lag(2s);
    for (int i = 0; i <= 40; ++i)
        lag.samplePrimary(t0 + i * 250ms, 100 + i);
    // The replica stuck at 100 (t0): beyond the 2 s kept, still reported beyond 2 s.
    CHECK(lag.lagAt(t0 + 10s, 100) >= 2s);
    CHECK(lag.lagAt(t0 + 10s, 140) == 0ms);
    // Another database: the numbering went back; the history starts again.
    lag.samplePrimary(t0 + 11s, 5);
    CHECK(lag.lagAt(t0 + 11s, 5) == 0ms);
}

TEST_CASE("the feed reads the replica within the bound, the primary beyond it, and comes back") {
    ReadChoice choice({3s, 2s});
    CHECK(choice.server() == Server::Primary);  // until it has looked
    auto s = choice.observe(10ms);
    CHECK(s.happened);
    CHECK(choice.server() == Server::Replica);
    CHECK_FALSE(choice.observe(2900ms).happened);  // within the bound
    s = choice.observe(3100ms);
    CHECK(s.happened);
    CHECK(s.to == Server::Primary);
    CHECK(s.why == Reason::Lagging);
    // Back only once within half the bound.
    CHECK_FALSE(choice.observe(2000ms).happened);
    CHECK(choice.server() == Server::Primary);
    CHECK(choice.reason() == Reason::Lagging);
    s = choice.observe(1500ms);
    CHECK(s.happened);
    CHECK(s.why == Reason::Fresh);
    CHECK(choice.server() == Server::Replica);
}

TEST_CASE("an unreachable replica is left for the primary and tried again after a while") {
    ReadChoice choice({3s, 2s});
    choice.observe(0ms);
    REQUIRE(choice.server() == Server::Replica);
    auto s = choice.replicaFailed(t0);
    CHECK(s.happened);
    CHECK(s.why == Reason::Down);
    CHECK(choice.server() == Server::Primary);
    CHECK_FALSE(choice.tryReplica(t0 + 1s));
    CHECK(choice.tryReplica(t0 + 2s));
    CHECK_FALSE(choice.replicaFailed(t0 + 2s).happened);  // still down: no new switch
    CHECK_FALSE(choice.tryReplica(t0 + 3s));
    choice.observe(0ms);
    CHECK(choice.server() == Server::Replica);
    CHECK(choice.tryReplica(t0 + 4s));
}

TEST_CASE("older versions of an own announce are passed over until the feed is past its floor") {
    OwnWrites own;
    // Written after the primary's counter read 200: anything of it numbered <= 200 is older.
    own.note(peer(7, "stopper", false), 200);
    std::vector<OwnWrites::PeerChange> changes{peer(7, "stopper"), peer(7, "other"),
                                               peer(8, "stopper"), peer(7, "stopper")};
    std::vector<std::uint64_t> numbers{150, 160, 170, 201};
    CHECK(own.filter(changes, numbers) == 1);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].peer.uid.view() == "other");
    CHECK(changes[1].tid == 8);  // another torrent's peer of that uid
    CHECK(numbers[2] == 201);    // newer than the announce: applied
    own.passed(199);
    CHECK(own.size() == 1);
    own.passed(200);
    CHECK(own.empty());
    changes = {peer(7, "stopper")};
    numbers = {180};
    CHECK(own.filter(changes, numbers) == 0);
}

TEST_CASE("a completion's count is not taken back by the torrent's older row, a removal lands") {
    OwnWrites own;
    own.noteCompletion(7, 200);
    OwnWrites::TorrentChange older, other, removed, newer;
    older.tid = 7;
    older.downloaded = 4;
    other.tid = 8;
    removed.tid = 7;
    removed.present = false;
    newer.tid = 7;
    newer.downloaded = 5;
    std::vector<OwnWrites::TorrentChange> changes{older, other, removed, newer};
    std::vector<std::uint64_t> numbers{190, 191, 192, 205};
    CHECK(own.filter(changes, numbers) == 1);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].tid == 8);
    CHECK_FALSE(changes[1].present);
    CHECK(changes[2].downloaded == 5);
    own.passed(200);
    CHECK(own.empty());
}

TEST_CASE("database.replica: its own server, the primary's credentials unless given") {
    auto parse = [](const std::string& text) { return tracker::parseConfig(text, "t.json"); };
    auto config = parse(R"({"database": {"socket": "/p.sock", "user": "u", "password": "pw",
        "name": "site", "replica": {"host": "10.0.0.2", "maxLagMs": 1500}}})");
    REQUIRE(std::holds_alternative<tracker::Config>(config));
    const auto& replica = std::get<tracker::Config>(config).readReplica;
    CHECK(replica.enabled);
    CHECK(replica.database.host == "10.0.0.2");
    CHECK(replica.database.port == 3306);
    CHECK(replica.database.socket.empty());  // the primary's socket is not the replica's
    CHECK(replica.database.user == "u");
    CHECK(replica.database.password == "pw");
    CHECK(replica.database.name == "site");
    CHECK(replica.maxLagMs == 1500);

    auto none = parse(R"({"database": {"host": "db"}})");
    CHECK_FALSE(std::get<tracker::Config>(none).readReplica.enabled);
    auto off = parse(R"({"database": {"replica": {"enabled": false}}})");
    CHECK_FALSE(std::get<tracker::Config>(off).readReplica.enabled);

    auto same = parse(R"({"database": {"replica": {"port": 3306}}})");
    REQUIRE(std::holds_alternative<tracker::ConfigError>(same));
    CHECK(std::get<tracker::ConfigError>(same).message.find("database.replica") !=
          std::string::npos);
    auto unknown = parse(R"({"database": {"replica": {"lag": 1}}})");
    REQUIRE(std::holds_alternative<tracker::ConfigError>(unknown));
    CHECK(std::get<tracker::ConfigError>(unknown).message.find("database.replica.lag") !=
          std::string::npos);
    auto tiny = parse(R"({"database": {"replica": {"socket": "/r.sock", "maxLagMs": 5}}})");
    CHECK(std::holds_alternative<tracker::ConfigError>(tiny));
}
