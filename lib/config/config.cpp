#include "config.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace tracker {
namespace {

using Json = nlohmann::json;

// Reads one JSON object into fields, refusing unknown keys and wrong types by name.
class ObjectReader {
  public:
    ObjectReader(const Json& object, std::string where, std::string prefix = "")
        : prefix_(std::move(prefix)), object_(object), where_(std::move(where)) {}

    template <typename Int>
    void integer(const char* key, Int& target, std::uint64_t min, std::uint64_t max) {
        handlers_[key] = [this, key, &target, min, max](const Json& value) {
            bool negative = value.is_number_integer() && !value.is_number_unsigned() &&
                            value.get<std::int64_t>() < 0;
            if (!value.is_number_integer() || negative) {
                return fail(key, "must be a non-negative whole number");
            }
            auto number = value.get<std::uint64_t>();
            if (number < min || number > max) {
                return fail(
                    key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
            }
            target = static_cast<Int>(number);
        };
    }

    void boolean(const char* key, bool& target) {
        handlers_[key] = [this, key, &target](const Json& value) {
            if (!value.is_boolean())
                return fail(key, "must be true or false");
            target = value.get<bool>();
        };
    }

    void string(const char* key, std::string& target) {
        handlers_[key] = [this, key, &target](const Json& value) {
            if (!value.is_string())
                return fail(key, "must be a string");
            target = value.get<std::string>();
        };
    }

    void stringList(const char* key, std::vector<std::string>& target) {
        handlers_[key] = [this, key, &target](const Json& value) {
            if (!value.is_array())
                return fail(key, "must be a list of strings");
            std::vector<std::string> items;
            for (const auto& item : value) {
                if (!item.is_string())
                    return fail(key, "must be a list of strings");
                items.push_back(item.get<std::string>());
            }
            target = std::move(items);
        };
    }

    // A nested object, read by `read`, which returns its first error.
    void object(const char* key,
                std::function<std::optional<std::string>(const Json&, const std::string&)> read) {
        handlers_[key] = [this, key, read](const Json& value) {
            if (!value.is_object())
                return fail(key, "must be an object");
            if (auto error = read(value, qualified(key)); error && !error_)
                error_ = error;
        };
    }

    // Applies every handler; returns the first error.
    std::optional<std::string> run() {
        if (!object_.is_object())
            return where_ + ": must be a JSON object";
        for (const auto& [key, value] : object_.items()) {
            auto handler = handlers_.find(key);
            if (handler == handlers_.end()) {
                std::string known;
                for (const auto& entry : handlers_)
                    known += (known.empty() ? "" : ", ") + entry.first;
                return "unknown key \"" + qualified(key) + "\" in " + where_ + " (known: " + known +
                       ")";
            }
            handler->second(value);
            if (error_)
                return error_;
        }
        return std::nullopt;
    }

  private:
    std::string qualified(const std::string& key) const {
        return prefix_.empty() ? key : prefix_ + "." + key;
    }
    void fail(const std::string& key, const std::string& why) {
        if (!error_)
            error_ = "key \"" + qualified(key) + "\" in " + where_ + " " + why;
    }

    std::optional<std::string> error_;
    std::string prefix_;
    const Json& object_;
    std::string where_;
    std::map<std::string, std::function<void(const Json&)>> handlers_;
};

constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();

void readDatabaseKeys(ObjectReader& reader, DatabaseConfig& d) {
    reader.string("host", d.host);
    reader.integer("port", d.port, 1, 65535);
    reader.string("socket", d.socket);
    reader.string("user", d.user);
    reader.string("password", d.password);
    reader.string("name", d.name);
    reader.integer("connectTimeoutSeconds", d.connectTimeoutSeconds, 1, 300);
    reader.integer("queryTimeoutSeconds", d.queryTimeoutSeconds, 1, 300);
}

// `database.replica`: the primary's credentials, schema and timeouts unless given; its own
// server (host and port, or socket), which must not be the primary's.
std::optional<std::string> readReplicaSection(const Json& object, const std::string& sourceName,
                                              const std::string& prefix, Config& config) {
    ReadReplicaConfig& replica = config.readReplica;
    replica.enabled = true;  // unless it says "enabled": false
    replica.database = config.database;
    DatabaseConfig& r = replica.database;
    const DatabaseConfig endpointDefaults;
    r.host = endpointDefaults.host;
    r.port = endpointDefaults.port;
    r.socket = endpointDefaults.socket;
    ObjectReader reader(object, sourceName, prefix);
    readDatabaseKeys(reader, r);
    reader.integer("maxLagMs", replica.maxLagMs, 100, 600000);
    reader.boolean("enabled", replica.enabled);
    if (auto error = reader.run())
        return error;
    if (!replica.enabled)
        return std::nullopt;
    const DatabaseConfig& p = config.database;
    bool samePlace = r.socket.empty() ? p.socket.empty() && r.host == p.host && r.port == p.port
                                      : r.socket == p.socket;
    if (samePlace)
        return "key \"" + prefix + "\" in " + sourceName +
               " names the primary's own server: give the replica's host and port, or socket";
    return std::nullopt;
}

}  // namespace

protocol::AnnouncePolicy Config::announcePolicy() const {
    protocol::AnnouncePolicy policy;
    policy.requireKey = requireKey;
    policy.allowIpParam = allowIpParam;
    policy.numwantDefault = numwantDefault;
    policy.numwantMax = numwantMax;
    return policy;
}

std::variant<Config, ConfigError> parseConfig(const std::string& jsonText,
                                              const std::string& sourceName) {
    Json root;
    try {
        root = Json::parse(jsonText);
    } catch (const Json::parse_error& error) {
        return ConfigError{sourceName + ": not valid JSON: " + error.what()};
    }

    Config config;
    ObjectReader top(root, sourceName);
    top.integer("minInterval", config.minInterval, 1, 86400);
    top.integer("maxInterval", config.maxInterval, 1, 86400);
    top.object("database", [&](const Json& object, const std::string& prefix) {
        ObjectReader db(object, sourceName, prefix);
        DatabaseConfig& d = config.database;
        readDatabaseKeys(db, d);
        // Read once the primary's keys are known: the replica's defaults are theirs.
        const Json* replica = nullptr;
        std::string replicaPrefix;
        db.object("replica", [&](const Json& value, const std::string& where) {
            replica = &value;
            replicaPrefix = where;
            return std::optional<std::string>();
        });
        if (auto error = db.run())
            return error;
        if (replica == nullptr)
            return std::optional<std::string>();
        return readReplicaSection(*replica, sourceName, replicaPrefix, config);
    });
    top.integer("workers", config.workers, 1, 1024);
    top.integer("poolSize", config.poolSize, 1, 1024);
    top.integer("poolWaitMs", config.poolWaitMs, 1, 60000);
    top.integer("swarmCacheMs", config.swarmCacheMs, 0, 5000);
    top.integer("peerFlushMs", config.peerFlushMs, 0, 1000);
    top.integer("replicaPullMs", config.replicaPullMs, 0, 1000);
    top.integer("replicaReloadSeconds", config.replicaReloadSeconds, 0, 86400);
    top.integer("meetWaitMs", config.meetWaitMs, 0, 5000);
    top.integer("outageServeSeconds", config.outageServeSeconds, 0, 3600);
    top.integer("quietWriteSeconds", config.quietWriteSeconds, 0, 1000);
    top.string("listen", config.listen);
    top.integer("listenBacklog", config.listenBacklog, 1, 65535);
    top.boolean("requireKey", config.requireKey);
    top.boolean("allowIpParam", config.allowIpParam);
    top.integer("numwantDefault", config.numwantDefault, 0, 10000);
    top.integer("numwantMax", config.numwantMax, 0, 10000);
    top.integer("scrapeInterval", config.scrapeInterval, 1, kU32);
    top.integer("maxScrapeHashes", config.maxScrapeHashes, 1, 10000);
    top.boolean("fullScrape", config.fullScrape);
    top.integer("fullScrapeCacheSeconds", config.fullScrapeCacheSeconds, 0, 86400);
    top.integer("torrentTtlDays", config.torrentTtlDays, 0, 36500);
    top.integer("cleanupBatchSize", config.cleanupBatchSize, 1, 100000);
    top.stringList("statsAllow", config.statsAllow);
    if (auto error = top.run())
        return ConfigError{*error};

    if (config.minInterval > config.maxInterval) {
        return ConfigError{sourceName + ": minInterval (" + std::to_string(config.minInterval) +
                           ") is above maxInterval (" + std::to_string(config.maxInterval) + ")"};
    }
    if (config.replicaReloadSeconds > 0 && config.replicaReloadSeconds < 10) {
        return ConfigError{"key \"replicaReloadSeconds\" in " + sourceName +
                           " must be 0 (read everything again only on a gap in the feed) or at "
                           "least 10"};
    }
    if (config.quietWriteSeconds > 0 && config.quietWriteSeconds < 16) {
        // A write's age is known to 8 seconds (swarms::WrittenTick): below 16, nothing is held.
        return ConfigError{"key \"quietWriteSeconds\" in " + sourceName +
                           " must be 0 (write every announce) or at least 16"};
    }
    if (config.numwantDefault > config.numwantMax) {
        return ConfigError{sourceName + ": numwantDefault (" +
                           std::to_string(config.numwantDefault) + ") is above numwantMax (" +
                           std::to_string(config.numwantMax) + ")"};
    }
    return config;
}

std::variant<Config, ConfigError> loadConfig(const std::string& path) {
    std::ifstream file(path);
    if (!file)
        return ConfigError{"cannot read config file " + path};
    std::ostringstream text;
    text << file.rdbuf();
    return parseConfig(text.str(), path);
}

std::string defaultConfigPath() {
    const char* fromEnvironment = std::getenv("TRACKER_CONFIG");
    if (fromEnvironment != nullptr && *fromEnvironment != '\0')
        return fromEnvironment;
    return "/etc/tracker/tracker.json";
}

}  // namespace tracker
