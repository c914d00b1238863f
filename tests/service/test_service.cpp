// Request handling over a fake store: routing, failure counting, the stats allow-list. No
// database, no FastCGI.
#include <catch2/catch.hpp>

#include "service/tracker_service.h"

using tracker::service::AddressAllowlist;
using tracker::service::HttpRequest;
using tracker::service::TrackerService;

namespace {

// Remembers what it was asked and answers with what the test set.
class FakeStore : public tracker::store::SwarmStore {
  public:
    tracker::store::AnnounceOutcome announceAnswer;
    int announces = 0;

    tracker::store::AnnounceOutcome announce(const tracker::protocol::AnnounceRequest&,
                                             std::uint32_t) override {
        ++announces;
        return announceAnswer;
    }
    tracker::store::ScrapeOutcome scrape(const std::vector<tracker::protocol::InfoHash>&) override {
        return {};
    }
    tracker::store::ScrapeOutcome scrapeAll() override { return {}; }
};

const char* kGoodAnnounce =
    "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=6881&uploaded=0&"
    "downloaded=0&left=0&key=k1";

AddressAllowlist loopbackOnly() {
    return *AddressAllowlist::parse({"127.0.0.1", "::1"});
}

}  // namespace

TEST_CASE("paths route by their last segment") {
    using tracker::service::Endpoint;
    using tracker::service::endpointFor;
    CHECK(endpointFor("/announce") == Endpoint::Announce);
    CHECK(endpointFor("/tracker/announce.php") == Endpoint::Announce);
    CHECK(endpointFor("/scrape") == Endpoint::Scrape);
    CHECK(endpointFor("/scrape.php") == Endpoint::Scrape);
    CHECK(endpointFor("/stats") == Endpoint::Stats);
    CHECK(endpointFor("/metrics") == Endpoint::Metrics);
    CHECK(endpointFor("/announcer") == Endpoint::Unknown);
    CHECK(endpointFor("") == Endpoint::Unknown);
}

TEST_CASE("unknown paths are 404 and other methods 405, without asking the store") {
    FakeStore store;
    TrackerService service(tracker::Config{}, store, loopbackOnly());
    CHECK(service.handle(HttpRequest{"GET", "/index.php", "", "127.0.0.1"}).status == 404);
    CHECK(service.handle(HttpRequest{"POST", "/announce", kGoodAnnounce, "127.0.0.1"}).status ==
          405);
    CHECK(store.announces == 0);
}

TEST_CASE("store outcomes become the PHP's numbered failures or an unavailable notice") {
    FakeStore store;
    TrackerService service(tracker::Config{}, store, loopbackOnly());
    HttpRequest request{"GET", "/announce", kGoodAnnounce, "10.0.0.1"};

    store.announceAnswer.status = tracker::store::StoreStatus::NotRegistered;
    CHECK(service.handle(request).body.find("Tracker error #5:") != std::string::npos);
    store.announceAnswer.status = tracker::store::StoreStatus::Banned;
    CHECK(service.handle(request).body.find("Tracker error #6:") != std::string::npos);
    store.announceAnswer.status = tracker::store::StoreStatus::Unavailable;
    auto unavailable = service.handle(request);
    CHECK(unavailable.status == 200);
    CHECK(unavailable.body.find("temporarily unavailable") != std::string::npos);
    store.announceAnswer.status = tracker::store::StoreStatus::Busy;
    CHECK(service.handle(request).body.find("overloaded") != std::string::npos);
}

TEST_CASE("stats are served only to the allow-list, and count what happened") {
    FakeStore store;
    TrackerService service(tracker::Config{}, store, loopbackOnly());
    service.handle(HttpRequest{"GET", "/announce", kGoodAnnounce, "10.0.0.1"});
    service.handle(HttpRequest{"GET", "/announce", "info_hash=short", "10.0.0.1"});
    service.handle(HttpRequest{"GET", "/nothing", "", "10.0.0.1"});

    CHECK(service.handle(HttpRequest{"GET", "/stats", "", "8.8.8.8"}).status == 403);
    CHECK(service.handle(HttpRequest{"GET", "/metrics", "", "10.0.0.1"}).status == 403);

    auto stats = service.handle(HttpRequest{"GET", "/stats", "", "127.0.0.1"});
    REQUIRE(stats.status == 200);
    CHECK(stats.contentType == "application/json");
    CHECK(stats.body.find("\"announce\": 2") != std::string::npos);
    CHECK(stats.body.find("\"1_missing_field\": 1") != std::string::npos);
    CHECK(stats.body.find("\"not_found\": 1") != std::string::npos);
    CHECK(stats.body.find("\"forbidden\": 2") != std::string::npos);

    auto metrics = service.handle(HttpRequest{"GET", "/metrics", "", "::1"});
    REQUIRE(metrics.status == 200);
    CHECK(metrics.body.find("tracker_requests_total{kind=\"announce\"} 2\n") != std::string::npos);
    CHECK(metrics.body.find("# TYPE tracker_failures_total counter") != std::string::npos);
}

TEST_CASE("the allow-list takes addresses and CIDR blocks and refuses anything else") {
    auto list = AddressAllowlist::parse({"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"});
    REQUIRE(list);
    CHECK(list->allows("10.200.3.4"));
    CHECK_FALSE(list->allows("11.0.0.1"));
    CHECK(list->allows("2001:db8:1::5"));
    CHECK_FALSE(list->allows("2001:db9::5"));
    CHECK(list->allows("192.0.2.7"));
    CHECK(list->allows("::ffff:192.0.2.7"));
    CHECK_FALSE(list->allows("192.0.2.8"));
    CHECK_FALSE(list->allows("garbage"));
    std::string bad;
    CHECK_FALSE(AddressAllowlist::parse({"10.0.0.0/33"}, &bad));
    CHECK(bad == "10.0.0.0/33");
    CHECK_FALSE(AddressAllowlist::parse({"localhost"}, &bad));
    CHECK(bad == "localhost");
}

TEST_CASE("a query string over 16 kB is refused before it is parsed") {
    FakeStore store;
    TrackerService service(tracker::Config{}, store, loopbackOnly());
    std::string huge = std::string(kGoodAnnounce) + "&pad=" + std::string(17000, 'x');
    auto response = service.handle(HttpRequest{"GET", "/announce", huge, "10.0.0.1"});
    CHECK(response.status == 200);
    CHECK(response.body.find("is too long") != std::string::npos);
    CHECK(store.announces == 0);
}
