// Request handling over a fake store: routing, failure counting, the stats allow-list. No
// database, no FastCGI.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <atomic>
#include <thread>

#include "protocol/responses.h"
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
    // What a full scrape reads, in chunks of `chunk`; how often it was read.
    std::vector<tracker::protocol::ScrapeEntry> torrents;
    std::size_t chunk = 2;
    std::atomic<int> fullReads{0};
    bool failFullRead = false;
    tracker::store::ReadOutcome scrapeAll(const tracker::store::ScrapeSink& sink) override {
        ++fullReads;
        if (failFullRead)
            return {tracker::store::StoreStatus::Unavailable, "down"};
        for (std::size_t first = 0; first < torrents.size(); first += chunk) {
            std::vector<tracker::protocol::ScrapeEntry> part(
                torrents.begin() + static_cast<std::ptrdiff_t>(first),
                torrents.begin() +
                    static_cast<std::ptrdiff_t>(std::min(torrents.size(), first + chunk)));
            if (!sink(part))
                break;
        }
        return {};
    }
};

tracker::protocol::ScrapeEntry scrapeEntry(char first, std::int64_t seeders, std::string name) {
    tracker::protocol::ScrapeEntry entry;
    entry.infoHash.fill(first);
    entry.counts.complete = seeders;
    entry.counts.incomplete = 1;
    entry.counts.downloaded = 3;
    entry.name = std::move(name);
    return entry;
}

// The whole body of a response, streamed or not.
std::string bodyOf(const tracker::service::HttpResponse& response) {
    if (!response.stream)
        return response.body;
    std::string out;
    REQUIRE(response.stream([&out](std::string_view piece) {
        out.append(piece);
        return true;
    }));
    REQUIRE(out.size() == response.streamBytes);
    return out;
}

std::string gunzip(const std::string& compressed) {
    z_stream stream{};
    REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream.avail_in = static_cast<uInt>(compressed.size());
    std::string out;
    char buffer[4096];
    int result = Z_OK;
    while (result == Z_OK) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof buffer;
        result = inflate(&stream, Z_NO_FLUSH);
        out.append(buffer, sizeof buffer - stream.avail_out);
    }
    inflateEnd(&stream);
    REQUIRE(result == Z_STREAM_END);
    return out;
}

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

TEST_CASE("the full scrape is one bencoded dict, plain or gzip, built once per cache period") {
    FakeStore store;
    // Out of order across chunks: the store hands them in hash order, as the database does.
    store.torrents = {scrapeEntry('a', 1, "first"), scrapeEntry('b', 0, "second"),
                      scrapeEntry('c', 4, "third")};
    tracker::Config config;
    config.fullScrapeCacheSeconds = 3600;
    TrackerService service(config, store, loopbackOnly());
    std::string expected = tracker::protocol::encodeScrape(store.torrents, config.scrapeInterval);

    auto plain = service.handle(HttpRequest{"GET", "/scrape", "", "10.0.0.1"});
    CHECK(plain.status == 200);
    CHECK(plain.contentEncoding.empty());
    CHECK(plain.varyOnEncoding);
    CHECK(bodyOf(plain) == expected);

    auto gzip = service.handle(HttpRequest{"GET", "/scrape", "", "10.0.0.1", "br, gzip;q=0.8"});
    CHECK(gzip.contentEncoding == "gzip");
    std::string compressed = bodyOf(gzip);
    CHECK(compressed.size() < expected.size() * 2);
    CHECK(gunzip(compressed) == expected);
    CHECK(store.fullReads == 1);  // one build served both

    // "gzip;q=0" refuses it.
    auto refused = service.handle(HttpRequest{"GET", "/scrape", "", "10.0.0.1", "gzip;q=0"});
    CHECK(refused.contentEncoding.empty());
    CHECK(bodyOf(refused) == expected);
}

TEST_CASE("a stale full scrape is served while the next one is built; none without a build") {
    FakeStore store;
    store.torrents = {scrapeEntry('a', 1, "first")};
    tracker::service::FullScrape::Builder build =
        [&store](const std::function<void(std::string_view)>& write) {
            tracker::protocol::ScrapeStreamEncoder encoder(60);
            std::string out;
            auto read =
                store.scrapeAll([&](const std::vector<tracker::protocol::ScrapeEntry>& part) {
                    for (const auto& entry : part)
                        encoder.add(entry, out);
                    return true;
                });
            encoder.finish(out);
            write(out);
            return read.status == tracker::store::StoreStatus::Ok;
        };
    tracker::service::FullScrape scrape(std::chrono::seconds(0), build);
    auto first = scrape.get();  // no copy yet: waits for the first build
    REQUIRE(first);
    CHECK(store.fullReads == 1);
    store.torrents.push_back(scrapeEntry('b', 2, "second"));
    // Older than maxAge (0): the same copy is served at once and a new one is asked for.
    auto again = scrape.get();
    CHECK(again == first);
    for (int i = 0; i < 500 && scrape.stats().builds < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(scrape.stats().builds == 2);
    auto fresh = scrape.get();
    REQUIRE(fresh);
    CHECK(fresh != first);
    CHECK(fresh->plainBytes > first->plainBytes);
    // The first copy is still readable by whoever holds it.
    std::string old;
    CHECK(first->sendPlain([&old](std::string_view piece) {
        old.append(piece);
        return true;
    }));
    CHECK(old.size() == first->plainBytes);

    // A build that fails leaves no copy to a scrape that never had one.
    FakeStore down;
    down.failFullRead = true;
    tracker::Config config;
    TrackerService service(config, down, loopbackOnly());
    auto answer = service.handle(HttpRequest{"GET", "/scrape", "", "10.0.0.1"});
    CHECK(bodyOf(answer).find("being prepared") != std::string::npos);
}

TEST_CASE("Accept-Encoding is read as HTTP says") {
    using tracker::service::acceptsGzip;
    CHECK(acceptsGzip("gzip"));
    CHECK(acceptsGzip("deflate, gzip;q=1.0, *;q=0.5"));
    CHECK(acceptsGzip("GZIP"));
    CHECK(acceptsGzip("x-gzip"));
    CHECK(acceptsGzip("*"));
    CHECK(acceptsGzip("br ; q=0.9 ,gzip ; q=0.1"));
    CHECK_FALSE(acceptsGzip(""));
    CHECK_FALSE(acceptsGzip("identity"));
    CHECK_FALSE(acceptsGzip("gzip;q=0"));
    CHECK_FALSE(acceptsGzip("gzip; q=0.000"));
    CHECK_FALSE(acceptsGzip("gzipped"));
}

TEST_CASE("a reload changes intervals, key rules, scrape limits and stats readers at once") {
    FakeStore store;
    TrackerService service(tracker::Config{}, store, loopbackOnly());
    HttpRequest announce{"GET", "/announce", kGoodAnnounce, "10.0.0.1"};
    const char* withoutKey =
        "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=6881&uploaded=0&"
        "downloaded=0&left=0";
    CHECK(service.handle(announce).body.find("8:intervali900e") != std::string::npos);
    CHECK(service.handle(HttpRequest{"GET", "/announce", withoutKey, "10.0.0.1"})
              .body.find("failure reason") == std::string::npos);
    CHECK(service.handle(HttpRequest{"GET", "/stats", "", "10.0.0.9"}).status == 403);

    tracker::Config changed;
    changed.minInterval = 600;
    changed.maxInterval = 1800;
    changed.requireKey = true;
    changed.workers = 3;  // not taken: the caller names it as needing a restart
    service.reload(changed, *AddressAllowlist::parse({"10.0.0.0/8"}));
    std::string body = service.handle(announce).body;
    CHECK(body.find("8:intervali1800e") != std::string::npos);
    CHECK(body.find("12:min intervali600e") != std::string::npos);
    CHECK(service.handle(HttpRequest{"GET", "/announce", withoutKey, "10.0.0.1"})
              .body.find("Tracker error #1:") != std::string::npos);
    CHECK(service.handle(HttpRequest{"GET", "/stats", "", "10.0.0.9"}).status == 200);
    CHECK(service.handle(HttpRequest{"GET", "/stats", "", "127.0.0.1"}).status == 403);
}
