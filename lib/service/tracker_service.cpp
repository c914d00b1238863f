#include "service/tracker_service.h"

#include <random>

#include "protocol/peer_selection.h"
#include "protocol/responses.h"
#include "protocol/scrape_request.h"
#include "util/log.h"

namespace tracker::service {
namespace {

using protocol::Failure;
using protocol::FailureCode;

HttpResponse bencoded(std::string body) {
    HttpResponse response;
    response.body = std::move(body);
    return response;
}

HttpResponse plain(int status, std::string text) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(text);
    response.body.push_back('\n');
    return response;
}

Failure storeFailure(store::StoreStatus status) {
    switch (status) {
        case store::StoreStatus::NotRegistered:
            return protocol::makeFailure(FailureCode::NotRegistered,
                                         "this torrent is not registered with this tracker");
        case store::StoreStatus::Banned:
            return protocol::makeFailure(FailureCode::Banned,
                                         "this torrent is banned from this tracker");
        case store::StoreStatus::Busy:
            return protocol::makeFailure(FailureCode::Unavailable,
                                         "the tracker is overloaded; try again in a few minutes");
        default:
            return protocol::makeFailure(
                FailureCode::Unavailable,
                "the tracker is temporarily unavailable; try again in a few minutes");
    }
}

// A real announce is under 600 bytes and a 64-hash scrape under 4 kB; nginx and Apache cut
// request lines near 8 kB before we see them. Anything longer is refused unread.
constexpr std::size_t kMaxQueryBytes = 16 * 1024;

std::mt19937_64& threadRng() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng;
}

}  // namespace

Endpoint endpointFor(std::string_view path) {
    std::size_t slash = path.rfind('/');
    std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (last == "announce" || last == "announce.php")
        return Endpoint::Announce;
    if (last == "scrape" || last == "scrape.php")
        return Endpoint::Scrape;
    if (last == "stats")
        return Endpoint::Stats;
    if (last == "metrics")
        return Endpoint::Metrics;
    return Endpoint::Unknown;
}

TrackerService::TrackerService(const Config& config, store::SwarmStore& store,
                               AddressAllowlist statsReaders,
                               std::function<db::PoolStats()> poolStats)
    : settings_(settingsOf(config, std::move(statsReaders))),
      store_(store),
      metrics_(std::move(poolStats)),
      fullScrape_(config.fullScrape
                      ? std::make_unique<FullScrape>(
                            std::chrono::seconds(config.fullScrapeCacheSeconds),
                            [this](const std::function<void(std::string_view)>& write) {
                                return writeFullScrape(write);
                            })
                      : nullptr) {
    metrics_.setAnswerSources([this] { return store_.answerSources(); });
    if (fullScrape_) {
        metrics_.setFullScrapeStats([this] {
            FullScrape::Stats built = fullScrape_->stats();
            Metrics::FullScrapeStats stats;
            stats.builds = built.builds;
            stats.failedBuilds = built.failedBuilds;
            stats.gzipBytes = built.gzipBytes;
            stats.plainBytes = built.plainBytes;
            stats.lastBuildMs = built.lastBuildTook.count();
            return stats;
        });
    }
}

std::shared_ptr<const TrackerService::Settings> TrackerService::settingsOf(
    const Config& config, AddressAllowlist statsReaders) {
    auto settings = std::make_shared<Settings>();
    settings->policy = config.announcePolicy();
    settings->intervals = protocol::Intervals{config.maxInterval, config.minInterval};
    settings->scrapeInterval = config.scrapeInterval;
    settings->maxScrapeHashes = config.maxScrapeHashes;
    settings->statsReaders = std::move(statsReaders);
    return settings;
}

void TrackerService::reload(const Config& config, AddressAllowlist statsReaders) {
    std::atomic_store(&settings_, settingsOf(config, std::move(statsReaders)));
}

HttpResponse TrackerService::refuse(const Failure& failure) {
    metrics_.countFailure(failure.code);
    return bencoded(protocol::encodeFailure(failure));
}

HttpResponse TrackerService::refuse(store::StoreStatus status, std::string_view why) {
    if (!why.empty())
        util::logErrorThrottled("store", why);
    return refuse(storeFailure(status));
}

HttpResponse TrackerService::handle(const HttpRequest& request) {
    Endpoint endpoint = endpointFor(request.path);
    if (endpoint == Endpoint::Unknown) {
        metrics_.countRequest(RequestKind::NotFound);
        return plain(404, "Not found: this tracker serves /announce and /scrape.");
    }
    if (request.method != "GET" && request.method != "HEAD") {
        metrics_.countRequest(RequestKind::BadMethod);
        return plain(405, "Method not allowed: announce and scrape are GET requests.");
    }
    if (request.query.size() > kMaxQueryBytes) {
        return refuse(protocol::makeFailure(
            FailureCode::Unnumbered, "query string of " + std::to_string(request.query.size()) +
                                         " bytes is too long (at most " +
                                         std::to_string(kMaxQueryBytes) + ")"));
    }
    if (endpoint == Endpoint::Announce) {
        metrics_.countRequest(RequestKind::Announce);
        return announce(request.query, request.remoteAddr);
    }
    if (endpoint == Endpoint::Scrape)
        return scrape(request.query, request.acceptEncoding);

    if (!settings()->statsReaders.allows(request.remoteAddr)) {
        metrics_.countRequest(RequestKind::Forbidden);
        return plain(403, "Forbidden: the stats are served to the addresses in statsAllow only.");
    }
    metrics_.countRequest(RequestKind::Stats);
    HttpResponse response;
    if (endpoint == Endpoint::Stats) {
        response.contentType = "application/json";
        response.body = metrics_.json();
    } else {
        response.contentType = "text/plain; version=0.0.4";
        response.body = metrics_.prometheus();
    }
    return response;
}

HttpResponse TrackerService::announce(std::string_view query, std::string_view remoteAddr) {
    std::shared_ptr<const Settings> settings = this->settings();
    auto parsed = protocol::parseAnnounce(query, remoteAddr, settings->policy);
    if (auto* refused = std::get_if<Failure>(&parsed))
        return refuse(*refused);
    const protocol::AnnounceRequest& request = std::get<protocol::AnnounceRequest>(parsed);

    // One more than wanted, so that the asking peer's own row can be left out.
    std::uint32_t candidates = request.numwant == 0 ? 0 : request.numwant + 1;
    store::AnnounceOutcome outcome = store_.announce(request, candidates);
    if (outcome.status != store::StoreStatus::Ok)
        return refuse(outcome.status, outcome.message);

    std::vector<protocol::PeerCandidate> peers;
    peers.reserve(outcome.peers.size());
    for (const swarms::StoredPeer& stored : outcome.peers) {
        peers.push_back({stored.uid, stored.peerId, stored.address, stored.port, stored.seeder,
                         stored.requiresCrypto});
    }
    protocol::SelectionRules rules;
    rules.selfUid = request.uid;
    rules.selfIsSeeder = request.isSeeder();
    rules.selfCanDoCrypto = request.canDoCrypto();
    rules.numwant = request.numwant;
    std::vector<std::size_t> chosen = protocol::selectPeers(peers, rules, threadRng());

    return bencoded(
        protocol::encodeAnnounce(request, outcome.counts, settings->intervals, peers, chosen));
}

HttpResponse TrackerService::scrape(std::string_view query, std::string_view acceptEncoding) {
    std::shared_ptr<const Settings> settings = this->settings();
    auto parsed = protocol::parseScrape(query, settings->maxScrapeHashes);
    if (auto* refused = std::get_if<Failure>(&parsed))
        return refuse(*refused);
    const protocol::ScrapeRequest& request = std::get<protocol::ScrapeRequest>(parsed);
    if (request.full())
        return fullScrape(acceptEncoding);

    metrics_.countRequest(RequestKind::Scrape);
    store::ScrapeOutcome outcome = store_.scrape(request.infoHashes);
    if (outcome.status != store::StoreStatus::Ok)
        return refuse(outcome.status, outcome.message);
    return bencoded(protocol::encodeScrape(std::move(outcome.entries), settings->scrapeInterval));
}

HttpResponse TrackerService::fullScrape(std::string_view acceptEncoding) {
    metrics_.countRequest(RequestKind::FullScrape);
    if (!fullScrape_) {
        return refuse(protocol::makeFailure(
            FailureCode::Unnumbered,
            "full scrape is disabled on this tracker; name torrents with info_hash"));
    }
    std::shared_ptr<const FullScrape::Copy> copy = fullScrape_->get();
    if (!copy) {
        return refuse(protocol::makeFailure(
            FailureCode::Unavailable, "the full scrape is being prepared; try again in a minute"));
    }
    HttpResponse response;
    response.varyOnEncoding = true;
    if (acceptsGzip(acceptEncoding)) {
        response.contentEncoding = "gzip";
        response.streamBytes = copy->gzipBytes;
        response.stream = [copy](const BodySink& sink) { return copy->sendGzip(sink); };
    } else {
        response.streamBytes = copy->plainBytes;
        response.stream = [copy](const BodySink& sink) { return copy->sendPlain(sink); };
    }
    return response;
}

bool TrackerService::writeFullScrape(const std::function<void(std::string_view)>& write) {
    protocol::ScrapeStreamEncoder encoder(settings()->scrapeInterval);
    std::string piece;
    store::ReadOutcome read =
        store_.scrapeAll([&](const std::vector<protocol::ScrapeEntry>& entries) {
            piece.clear();
            for (const protocol::ScrapeEntry& entry : entries)
                encoder.add(entry, piece);
            write(piece);
            return true;
        });
    if (read.status != store::StoreStatus::Ok) {
        util::logErrorThrottled("full-scrape", "full scrape failed: " + read.message);
        return false;
    }
    piece.clear();
    encoder.finish(piece);
    write(piece);
    return true;
}

}  // namespace tracker::service
