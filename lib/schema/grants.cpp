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

// What the serving account does to each table, and why. It is also the triggers' DEFINER
// (`trackerctl migrate --definer`), so it holds what their writes need: the counters, the
// departures, the registry feed and the numbering; and TRIGGER on the tables they are on,
// which the server requires of a trigger's definer each time the trigger runs.
const std::vector<std::pair<const char*, const char*>> kRuntimeTables = {
    {"torrents", "SELECT, INSERT, UPDATE, DELETE, TRIGGER"},  // registry, completions, cleanup
    {"peers", "SELECT, INSERT, UPDATE, DELETE, TRIGGER"},     // announces, cleanup
    {"tracker_swarms", "SELECT, INSERT, UPDATE"},             // counts; the triggers keep them
    {"tracker_sequence", "SELECT, UPDATE"},                   // a batch's number; the pruning mark
    {"tracker_departures", "SELECT, INSERT, DELETE"},  // the replicas' feed; pruned by the cron
    {"tracker_torrent_feed", "SELECT, INSERT, UPDATE, DELETE"},  // the same for the registry
    {"tracker_schema", "SELECT"},                                // the migration check at start
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
        "-- First, the migrating account (trackerctl migrate): creates our tables, indexes and\n"
        "-- triggers, and backfills them. Migrate with --definer " +
        runtime +
        ",\n"
        "-- so that the triggers run as the serving account and this one may be dropped\n"
        "-- afterwards (a trigger whose definer is gone fails every write to its table, the\n"
        "-- PHP's too: error 1449). Naming another account as definer takes SET USER.\n"
        "-- With binary logging on, CREATE TRIGGER also needs SUPER or\n"
        "-- log_bin_trust_function_creators = 1.\n";
    out +=
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, "
        "TRIGGER ON " +
        db + ".* TO " + migrator + ";\n";
    out += "GRANT SET USER ON *.* TO " + migrator + ";\n";
    out +=
        "\n"
        "-- Then, once `trackerctl migrate` has created the tables: the serving account\n"
        "-- (tracker-fcgi, tracker-cron and trackerctl's torrent commands), table by table.\n";
    for (const auto& [table, privileges] : kRuntimeTables)
        out += "GRANT " + std::string(privileges) + " ON " + db + "." + table + " TO " + runtime +
               ";\n";
    return out;
}

}  // namespace tracker::schema
