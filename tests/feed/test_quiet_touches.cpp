// Holding back re-announces that change nothing but the time: one write per row per wait, the
// latest announce's values, due times kept, cancels honoured. No database.
#include <catch2/catch.hpp>

#include "feed/quiet_touches.h"
#include "swarms/written_tick.h"

using tracker::feed::QuietTouches;
using tracker::swarms::WrittenTick;
using namespace std::chrono_literals;

namespace {

const QuietTouches::Clock::time_point t0{std::chrono::hours(1000)};

QuietTouches::Touch touch(std::uint32_t pid, std::uint64_t left,
                          QuietTouches::Clock::time_point heard) {
    QuietTouches::Touch held;
    held.pid = pid;
    held.tid = 7;
    held.uid.assign("u" + std::to_string(pid));
    held.left = left;
    held.heard = heard;
    return held;
}

}  // namespace

TEST_CASE("a row's held announces are written once, at the first one's due time, as the last") {
    QuietTouches touches;
    touches.hold(touch(1, 500, t0), t0 + 100s);
    touches.hold(touch(1, 400, t0 + 30s), t0 + 130s);  // its due time is not the row's
    touches.hold(touch(2, 9, t0 + 10s), t0 + 50s);
    CHECK(touches.size() == 2);

    CHECK(touches.takeDue(t0 + 49s).empty());
    auto first = touches.takeDue(t0 + 50s);
    REQUIRE(first.size() == 1);
    CHECK(first[0].pid == 2);

    CHECK(touches.takeDue(t0 + 99s).empty());
    auto second = touches.takeDue(t0 + 100s);
    REQUIRE(second.size() == 1);
    CHECK(second[0].pid == 1);
    CHECK(second[0].left == 400);
    CHECK(second[0].heard == t0 + 30s);
    CHECK(second[0].uid == "u1");
    CHECK(touches.size() == 0);
    CHECK(touches.takeDue(t0 + 1000s).empty());  // the later due time was not the row's
}

TEST_CASE("an older announce held again does not replace a later one") {
    QuietTouches touches;
    touches.hold(touch(1, 300, t0 + 20s), t0 + 100s);
    touches.hold(touch(1, 500, t0), t0);  // a failed write coming back
    auto due = touches.takeDue(t0 + 100s);
    REQUIRE(due.size() == 1);
    CHECK(due[0].left == 300);
    CHECK(due[0].heard == t0 + 20s);
}

TEST_CASE("a cancelled row is not written; held again, it keeps its new due time") {
    QuietTouches touches;
    touches.hold(touch(1, 500, t0), t0 + 10s);
    touches.hold(touch(2, 500, t0), t0 + 10s);
    touches.cancel(1);
    touches.cancel(99);  // nothing held: nothing happens
    touches.hold(touch(1, 100, t0 + 5s), t0 + 60s);
    auto early = touches.takeDue(t0 + 10s);
    REQUIRE(early.size() == 1);
    CHECK(early[0].pid == 2);
    auto late = touches.takeDue(t0 + 60s);
    REQUIRE(late.size() == 1);
    CHECK(late[0].pid == 1);
    CHECK(late[0].left == 100);
}

TEST_CASE("everything held is taken at once, soonest due first") {
    QuietTouches touches;
    for (std::uint32_t pid = 1; pid <= 100; ++pid)
        touches.hold(touch(pid, pid, t0), t0 + std::chrono::seconds(101 - pid));
    auto all = touches.takeDue(QuietTouches::Clock::time_point::max());
    REQUIRE(all.size() == 100);
    CHECK(all.front().pid == 100);
    CHECK(all.back().pid == 1);
    CHECK(touches.size() == 0);
}

TEST_CASE("a written tick tells an age no younger than the truth, until the counter turns") {
    using std::chrono::seconds;
    const auto start = t0;
    const std::uint8_t written = WrittenTick::at(start);
    CHECK(written != WrittenTick::kUnknown);
    CHECK_FALSE(WrittenTick::ageAtMost(WrittenTick::kUnknown, written));
    for (seconds later : {0s, 1s, 7s, 8s, 100s, 149s, 150s, 1000s, 2000s}) {
        auto age = WrittenTick::ageAtMost(written, WrittenTick::at(start + later));
        REQUIRE(age);
        CHECK(*age >= later);  // never younger: a wait computed from it never overstays
        CHECK(*age <= later + 2 * WrittenTick::kStep);
    }
    // One whole turn on, the counter reads young again; the age bound is for short waits.
    auto turned = WrittenTick::ageAtMost(written, WrittenTick::at(start + WrittenTick::kTurn));
    REQUIRE(turned);
    CHECK(*turned <= 2 * WrittenTick::kStep);
    for (int step = 0; step < 600; ++step)  // every value is 1..255
        CHECK(WrittenTick::at(start + step * WrittenTick::kStep) != WrittenTick::kUnknown);
}
