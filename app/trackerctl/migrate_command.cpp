// trackerctl migrate: our schema and migrations, applied to the configured database; and
// trackerctl grants: the privileges the accounts need for it and for serving.
#include <iostream>

#include "schema/grants.h"
#include "schema/migration_plan.h"
#include "schema/migrations.h"
#include "schema/trigger_definer.h"
#include "trackerctl/cli.h"
#include "trackerctl/output.h"

namespace tracker::ctl {

using nlohmann::json;

int Cli::migrate() {
    if (!args_.positional.empty())
        return usage("migrate takes no arguments");
    tracker::schema::MigrationOptions options;
    if (args_.definer) {
        auto account = tracker::schema::parseAccount(*args_.definer);
        if (!account)
            return usage("--definer takes an account as user@host, e.g. tracker@localhost");
        options.definer = *account;
    }
    // A migration may rebuild a big peers table: give the server the time it needs.
    if (!connect(3600))
        return kUsage;
    if (args_.dryRun)
        return migrationPlan();
    auto report =
        tracker::schema::applyMigrations(*pool_, tracker::schema::embeddedSqlFiles(), options);
    if (args_.json) {
        json steps = json::array();
        for (const auto& step : report.steps) {
            steps.push_back({{"what", step.what},
                             {"milliseconds", step.total.count()},
                             {"longestHoldMilliseconds", step.longestHold.count()}});
        }
        json out{{"ok", report.ok},
                 {"database", config_.database.name},
                 {"checked", report.checked},
                 {"createdTables", report.createdTables},
                 {"alreadyApplied", report.alreadyApplied},
                 {"appliedNow", report.appliedNow},
                 {"steps", steps},
                 {"redefinedTriggers", report.redefinedTriggers},
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
    for (const auto& step : report.steps) {
        std::cout << "  " << step.what << ": " << step.total.count() / 1000.0
                  << " s, writers waited at most " << step.longestHold.count() << " ms on it\n";
    }
    if (!report.redefinedTriggers.empty()) {
        std::cout << "triggers now run as " << options.definer << ": "
                  << joined(report.redefinedTriggers) << "\n";
    }
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

int Cli::migrationPlan() {
    auto plan = tracker::schema::planMigrations(*pool_, tracker::schema::embeddedSqlFiles());
    if (args_.json) {
        json steps = json::array();
        for (const auto& step : plan.steps) {
            steps.push_back({{"file", step.file},
                             {"line", step.line},
                             {"statement", step.statement},
                             {"table", step.table},
                             {"rows", step.rows},
                             {"effect", step.effect},
                             {"seconds", step.seconds}});
        }
        json out{{"ok", plan.ok},
                 {"dryRun", true},
                 {"database", config_.database.name},
                 {"account", plan.account},
                 {"alreadyApplied", plan.alreadyApplied},
                 {"checked", plan.checked},
                 {"pending", plan.pending},
                 {"steps", steps},
                 {"privilegesNeeded", plan.privilegesNeeded},
                 {"privilegesMissing", plan.privilegesMissing},
                 {"notes", plan.notes}};
        if (!plan.ok)
            out["error"] = plan.error + " [" + target() + "]";
        std::cout << dump(out) << "\n";
        return plan.ok ? kOk : kFailed;
    }
    if (!plan.ok) {
        std::cerr << "trackerctl: cannot plan the migration: " << plan.error << "\n";
        return kFailed;
    }
    std::cout << "dry run, nothing is changed: migrating " << target() << " (" << plan.account
              << ")\n";
    if (!plan.alreadyApplied.empty())
        std::cout << "already applied: " << joined(plan.alreadyApplied) << "\n";
    if (plan.pending.empty()) {
        std::cout << "nothing to apply: the database is up to date\n";
        return kOk;
    }
    std::cout << "would check (idempotent, run every time): " << joined(plan.checked) << "\n"
              << "would apply: " << joined(plan.pending) << "\n";
    double total = 0;
    std::string file;
    for (const auto& step : plan.steps) {
        if (step.file != file) {
            file = step.file;
            std::cout << file << "\n";
        }
        std::cout << "  line " << step.line << ": " << step.statement << "\n      ";
        if (!step.table.empty()) {
            std::cout << step.table
                      << (step.rows >= 0 ? " (about " + std::to_string(step.rows) + " rows)"
                                         : std::string(" (new)"))
                      << ": ";
        }
        std::cout << step.effect;
        if (step.seconds >= 1)
            std::cout << "; about " << static_cast<long long>(step.seconds + 0.5) << " s";
        std::cout << "\n";
        total += step.seconds;
    }
    std::cout << "expected time in all: about " << static_cast<long long>(total + 0.5)
              << " s (rates measured on 2 cores with the PHP writing; yours differ)\n";
    std::cout << "privileges needed on " << config_.database.name << ": "
              << joined(plan.privilegesNeeded) << "\n";
    if (plan.privilegesMissing.empty())
        std::cout << "this account has them\n";
    else
        std::cout << "this account lacks: " << joined(plan.privilegesMissing) << "\n";
    for (const auto& note : plan.notes)
        std::cout << "note: " << note << "\n";
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
