#include "schema/grants.h"

#include <utility>
#include <vector>

namespace tracker::schema {
namespace {

std::string quoted(const std::string& text, char quote) {
    std::string out(1, quote);
    for (char c : text) {
        if (c == quote || (quote == '\'' && c == '\\'))
            out.push_back(c == '\\' ? '\\' : quote);
        out.push_back(c);
    }
    out.push_back(quote);
    return out;
}

// What the serving account does to each table, and why. The triggers' own writes
// (tracker_swarms' counters, the departures, the registry feed, the numbering) run as the
// triggers' DEFINER, the migrating account, and need nothing here.
const std::vector<std::pair<const char*, const char*>> kRuntimeTables = {
    {"torrents", "SELECT, INSERT, UPDATE, DELETE"},  // registry, completions, cleanup
    {"peers", "SELECT, INSERT, UPDATE, DELETE"},     // announces, cleanup
    {"tracker_swarms", "SELECT"},                    // counts (the triggers keep them)
    {"tracker_sequence", "SELECT, UPDATE"},          // a batch's number; the pruning mark
    {"tracker_departures", "SELECT, DELETE"},        // the replicas' feed; pruned by the cron
    {"tracker_torrent_feed", "SELECT, DELETE"},      // the same for the registry
    {"tracker_schema", "SELECT"},                    // the migration check at start
};

}  // namespace

std::string accountName(const std::string& user, const std::string& host) {
    return quoted(user, '\'') + "@" + quoted(host, '\'');
}

std::string grantStatements(const std::string& database, const std::string& runtime,
                            const std::string& migrator) {
    const std::string db = quoted(database, '`');
    std::string out;
    out +=
        "-- The serving account: tracker-fcgi, tracker-cron and trackerctl's torrent "
        "commands.\n";
    for (const auto& [table, privileges] : kRuntimeTables)
        out += "GRANT " + std::string(privileges) + " ON " + db + "." + table + " TO " + runtime +
               ";\n";
    out +=
        "\n"
        "-- The migrating account (trackerctl migrate): creates our tables, indexes and\n"
        "-- triggers, and backfills them. The triggers run as their DEFINER, this account:\n"
        "-- keep it (a locked account will do: ALTER USER ... ACCOUNT LOCK), for dropping it\n"
        "-- makes every write to peers and torrents fail with error 1449, the PHP's too.\n"
        "-- With binary logging on, CREATE TRIGGER also needs SUPER or\n"
        "-- log_bin_trust_function_creators = 1.\n";
    out +=
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, "
        "TRIGGER ON " +
        db + ".* TO " + migrator + ";\n";
    return out;
}

}  // namespace tracker::schema
