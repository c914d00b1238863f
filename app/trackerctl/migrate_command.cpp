// trackerctl migrate: our schema and migrations, applied to the configured database; and
// trackerctl grants: the privileges the accounts need for it and for serving.
#include <iostream>

#include "schema/grants.h"
#include "schema/migrations.h"
#include "trackerctl/cli.h"
#include "trackerctl/output.h"

namespace tracker::ctl {

using nlohmann::json;

int Cli::migrate() {
    if (!args_.positional.empty())
        return usage("migrate takes no arguments");
    // A migration may rebuild a big peers table: give the server the time it needs.
    if (!connect(3600))
        return kUsage;
    auto report = tracker::schema::applyMigrations(*pool_, tracker::schema::embeddedSqlFiles());
    if (args_.json) {
        json out{{"ok", report.ok},
                 {"database", config_.database.name},
                 {"checked", report.checked},
                 {"createdTables", report.createdTables},
                 {"alreadyApplied", report.alreadyApplied},
                 {"appliedNow", report.appliedNow},
                 {"unknownVersions", report.unknownVersions}};
        if (!report.ok)
            out["error"] = report.error + " [" + target() + "]";
        std::cout << dump(out) << "\n";
        return report.ok ? kOk : kFailed;
    }
    std::cout << "migrating " << target() << "\n";
    if (!report.checked.empty())
        std::cout << "checked (idempotent, run every time): " << joined(report.checked) << "\n";
    if (!report.createdTables.empty())
        std::cout << "created tables: " << joined(report.createdTables) << "\n";
    if (!report.alreadyApplied.empty())
        std::cout << "already applied: " << joined(report.alreadyApplied) << "\n";
    if (!report.appliedNow.empty())
        std::cout << "applied now: " << joined(report.appliedNow) << "\n";
    for (unsigned version : report.unknownVersions) {
        std::cout << "note: the database records migration " << version
                  << ", which this trackerctl does not know (a newer version applied it)\n";
    }
    if (!report.ok) {
        std::cerr << "trackerctl: migration failed: " << report.error << "\n";
        return kFailed;
    }
    std::cout << (report.appliedNow.empty() ? "nothing new to apply: the database is up to date\n"
                                            : "done: the database is up to date\n");
    return kOk;
}

int Cli::grants() {
    if (args_.positional.size() > 1)
        return usage("grants takes at most one MIGRATOR user name");
    std::string path = args_.configPath.empty() ? tracker::defaultConfigPath() : args_.configPath;
    auto loaded = tracker::loadConfig(path);
    if (auto* error = std::get_if<tracker::ConfigError>(&loaded)) {
        std::cerr << "trackerctl: " << error->message << "\n";
        return kUsage;
    }
    const DatabaseConfig& database = std::get<tracker::Config>(loaded).database;
    bool local = !database.socket.empty() || database.host == "localhost" ||
                 database.host == "127.0.0.1" || database.host == "::1";
    std::string host = local ? "localhost" : "%";
    std::string migrator = args_.positional.empty() ? "tracker_migrate" : args_.positional[0];
    std::string text =
        schema::grantStatements(database.name, schema::accountName(database.user, host),
                                schema::accountName(migrator, host));
    if (args_.json) {
        std::cout << dump(json{{"ok", true}, {"database", database.name}, {"grants", text}})
                  << "\n";
        return kOk;
    }
    std::cout << text;
    return kOk;
}

}  // namespace tracker::ctl
