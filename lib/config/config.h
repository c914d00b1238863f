// The tracker's configuration: one JSON file shared by tracker-fcgi, tracker-cron and trackerctl.
// Keys keep the PHP tracker's names (minInterval, maxInterval) beside our own.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "protocol/announce_request.h"

namespace tracker {

struct DatabaseConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 3306;
    std::string socket;  // a unix socket path; when set, used instead of host/port
    std::string user = "tracker";
    std::string password;
    std::string name = "tracker";  // the database (schema) name
    std::uint32_t connectTimeoutSeconds = 2;
    std::uint32_t queryTimeoutSeconds = 5;  // read/write timeout: no request hangs on a dead server
};

// A MariaDB replica of the database (GTID, row-based, applying in commit order) that the
// replica's feed reads instead: the start-up load, the registry's and the peers' changes.
// Every write stays on the primary, and the feed reads the primary while the replica is more
// than maxLagMs behind or unreachable.
struct ReadReplicaConfig {
    bool enabled = false;     // a `database.replica` section was given, not "enabled": false
    DatabaseConfig database;  // keys not given: the primary's, but host, port and socket
    std::uint32_t maxLagMs = 3000;
};

struct Config {
    // The PHP's knobs.
    std::uint32_t minInterval = 300;  // `min interval`
    std::uint32_t maxInterval = 900;  // `interval`
    DatabaseConfig database;
    ReadReplicaConfig readReplica;  // `database.replica`

    // tracker-fcgi
    std::uint32_t workers = 16;       // threads accepting FastCGI requests
    std::uint32_t poolSize = 8;       // database connections shared by the workers
    std::uint32_t poolWaitMs = 2000;  // longest wait for a free connection before failing
    std::string listen;               // "" = fd 0 (spawned), "host:port", or a unix socket path
    std::uint32_t listenBacklog = 1024;
    // Speed against freshness (bench/README.md): an announce is answered from a read of its
    // swarm at most swarmCacheMs old, and its own write reaches the database within
    // peerFlushMs. Their sum is how long a new peer, a ban or a registration takes to show.
    std::uint32_t swarmCacheMs = 750;  // 0 = read the swarm on every announce
    std::uint32_t peerFlushMs = 250;   // 0 = write in the request
    // With write-behind on, each process keeps every torrent and swarm in memory and follows
    // the database's changes every replicaPullMs (a peer, a registration or a ban shows within
    // peerFlushMs + replicaPullMs); it reads everything again only on a gap in the change
    // feed, or also every replicaReloadSeconds when that is set.
    std::uint32_t replicaPullMs = 250;       // 0 = no replica: read swarms as above
    std::uint32_t replicaReloadSeconds = 0;  // 0 = only on a gap; else at least 10
    // A `started` announce that finds nobody else in its swarm waits up to this long for
    // what other processes (and hosts) answered at the same moment: until its replica has
    // pulled what they wrote within peerFlushMs of its arrival. 0 = answer at once.
    std::uint32_t meetWaitMs = 1000;
    // While the database is unreachable, announces to registered torrents are answered from
    // the replica this long after its last good pull (their writes queue; completions, which
    // must be written before they are answered, are refused). 0 = refuse at once.
    std::uint32_t outageServeSeconds = 30;
    // With the replica on, a re-announce that changes nothing but the time and `left`, of a
    // peer whose row this process wrote less than this long ago, is written this long after
    // that write, folded with the peer's later such announces (the row gets the latest one's
    // time and `left`). Never longer than minInterval, so that a held write lost with the
    // process cannot make tracker-cron expire a peer that announces every maxInterval.
    // 0 = write every announce within peerFlushMs.
    std::uint32_t quietWriteSeconds = 240;

    // protocol
    bool requireKey = false;
    bool allowIpParam = false;
    std::uint32_t numwantDefault = 50;
    std::uint32_t numwantMax = 200;
    std::uint32_t scrapeInterval = 3600;  // scrape's flags.min_request_interval
    std::uint32_t maxScrapeHashes = 64;   // info hashes in one scrape request
    bool fullScrape = true;               // a scrape without info_hash lists every torrent
    std::uint32_t fullScrapeCacheSeconds = 30;

    // tracker-cron
    std::uint32_t torrentTtlDays = 7;  // delete a torrent idle and peerless this long; 0 = never
    std::uint32_t cleanupBatchSize = 1000;  // rows per DELETE, so no big delete holds locks long

    // live stats (/stats, /metrics): only these client addresses (exact, or CIDR `10.0.0.0/8`)
    std::vector<std::string> statsAllow = {"127.0.0.1", "::1"};

    protocol::AnnouncePolicy announcePolicy() const;
};

struct ConfigError {
    std::string message;  // names the file and the key
};

// The config file the admin binaries read without --config: $TRACKER_CONFIG when set and not
// empty, else /etc/tracker/tracker.json.
std::string defaultConfigPath();

// Reads and checks a config file. Every key is optional (defaults above); an unknown key, a wrong
// type, an out-of-range value, a missing or unreadable file or bad JSON is an error naming it.
std::variant<Config, ConfigError> loadConfig(const std::string& path);
std::variant<Config, ConfigError> parseConfig(const std::string& jsonText,
                                              const std::string& sourceName);

}  // namespace tracker
