#include "trackerctl/cli.h"

#include <iostream>

#include "trackerctl/help.h"
#include "trackerctl/output.h"

namespace tracker::ctl {

using nlohmann::json;

int Cli::usage(const std::string& message) const {
    std::string help = commandHelp(args_.command);
    std::cerr << "trackerctl: " << message << "\n\n" << (help.empty() ? kUsageText : help.c_str());
    return kUsage;
}

int Cli::failed(const std::string& message) const {
    if (args_.json)
        std::cout << dump(json{{"ok", false}, {"error", message}}) << "\n";
    else
        std::cerr << "trackerctl: " << message << "\n";
    return kFailed;
}

int Cli::failed(const admin::AdminError& error) const {
    if (error.status == admin::AdminStatus::Unavailable)
        return failed(error.message + " [" + target() + "]");
    return failed(error.message);
}

std::string Cli::target() const {
    const tracker::DatabaseConfig& db = config_.database;
    std::string where =
        db.socket.empty() ? db.host + ":" + std::to_string(db.port) : "socket " + db.socket;
    return "database \"" + db.name + "\" at " + where + " as " + db.user;
}

// Reads the config and makes a one-connection pool (connecting on first use).
bool Cli::connect(std::uint32_t queryTimeoutSeconds) {
    std::string path = args_.configPath;
    if (path.empty()) {
        path = tracker::defaultConfigPath();
    }
    auto loaded = tracker::loadConfig(path);
    if (auto* error = std::get_if<tracker::ConfigError>(&loaded)) {
        std::cerr << "trackerctl: " << error->message << "\n";
        if (args_.json)
            std::cout << dump(json{{"ok", false}, {"error", error->message}}) << "\n";
        return false;
    }
    config_ = std::get<tracker::Config>(loaded);
    // The config's query timeout is sized for announces; an admin's count over a big peers
    // table, a cascading delete or a migration's table rebuild legitimately takes longer.
    config_.database.queryTimeoutSeconds =
        std::max(config_.database.queryTimeoutSeconds, queryTimeoutSeconds);
    pool_ =
        std::make_unique<db::ConnectionPool>(config_.database, 1, std::chrono::milliseconds(1000));
    return true;
}

std::optional<admin::TorrentKey> Cli::keyArgument(int& exitCode) {
    if (args_.positional.size() != 1) {
        exitCode = usage(args_.command + " takes one HASH or ID");
        return std::nullopt;
    }
    auto key = parseTorrentKey(args_.positional[0]);
    if (!key) {
        exitCode = usage("\"" + printable(args_.positional[0]) +
                         "\" is neither a 40-digit hex info hash nor a torrent id");
        return std::nullopt;
    }
    return key;
}

int Cli::run() {
    if (args_.command.empty() || args_.command == "help") {
        std::string about = args_.positional.empty() ? "" : args_.positional[0];
        if (args_.command.empty() && !args_.help)
            return usage("no command given");
        std::cout << (commandHelp(about).empty() ? std::string(kUsageText) : commandHelp(about));
        return kOk;
    }
    if (commandHelp(args_.command).empty())
        return usage("unknown command \"" + printable(args_.command) + "\"");
    if (args_.help) {
        std::cout << commandHelp(args_.command);
        return kOk;
    }
    bool listOptions = args_.banned || args_.active || args_.limit || args_.offset;
    if (listOptions && args_.command != "list")
        return usage("--banned, --active, --limit and --offset belong to `list`");
    if (args_.name && args_.command != "add" && args_.command != "list")
        return usage("--name belongs to `add` and `list`");
    if ((args_.dryRun || args_.definer) && args_.command != "migrate")
        return usage("--dry-run and --definer belong to `migrate`");

    const std::string& command = args_.command;
    if (command == "add")
        return add();
    if (command == "ban" || command == "unban")
        return setBanned(command == "ban");
    if (command == "remove")
        return remove();
    if (command == "show")
        return show();
    if (command == "list")
        return list();
    if (command == "stats")
        return stats();
    if (command == "grants")
        return grants();
    return migrate();
}

}  // namespace tracker::ctl
