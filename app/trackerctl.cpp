// trackerctl: the tracker's admin tool. Registers torrents (from a .torrent file or a hex info
// hash), bans, unbans, removes, lists and shows them, prints totals and migrates the database.
// Human output by default, --json for scripts. Exit status: 0 done, 1 failed, 2 usage.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin_store.h"
#include "config/config.h"
#include "db/connection_pool.h"
#include "schema/migrations.h"
#include "torrent/info_hash_hex.h"
#include "torrent/torrent_file.h"

namespace {

using nlohmann::json;
using tracker::admin::AdminError;
using tracker::admin::AdminStatus;
using tracker::admin::TorrentKey;
using tracker::admin::TorrentRow;

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

// A .torrent of a few million pieces is under 100 MB; anything bigger is not one.
constexpr std::streamsize kMaxTorrentBytes = 100 << 20;

const char* const kUsageText =
    "usage: trackerctl [--config FILE] [--json] COMMAND [ARGS]\n"
    "\n"
    "The BitTorrent tracker's admin tool: registers and bans torrents, lists them, shows\n"
    "totals, and migrates a PHP tracker's database. Command line only: it refuses to run as a\n"
    "web (CGI) request.\n"
    "\n"
    "commands:\n"
    "  add FILE.torrent [--name NAME]  register a torrent from its .torrent file\n"
    "  add HEX40 --name NAME           register a 40-digit hex info hash\n"
    "  ban HASH|ID                     refuse its announces (\"Tracker error #6\")\n"
    "  unban HASH|ID                   serve it again\n"
    "  remove HASH|ID                  delete it, and its peers with it\n"
    "  list [--banned] [--active] [--name TEXT] [--limit N] [--offset N]\n"
    "                                  registered torrents, by id, with seeders and leechers\n"
    "  show HASH|ID                    one torrent\n"
    "  stats                           torrents, peers, seeders, leechers, completions\n"
    "  migrate                         apply our schema migrations (idempotent)\n"
    "  help [COMMAND]                  this text, or one command's\n"
    "\n"
    "HASH is the 40-digit hex info hash, ID the torrent's `tid`.\n"
    "\n"
    "options (anywhere on the line):\n"
    "  --config FILE  the tracker's JSON config; default $TRACKER_CONFIG, else\n"
    "                 /etc/tracker/tracker.json (only its \"database\" settings are used)\n"
    "  --json         one JSON object on stdout, also on failure ({\"ok\": false, \"error\"})\n"
    "  --help, -h     help; `trackerctl COMMAND --help` for one command\n"
    "\n"
    "exit status: 0 done; 1 the operation failed (not found, bad .torrent, database\n"
    "unreachable or refusing); 2 usage error or unusable config.\n";

const std::map<std::string, std::string> kCommandHelp = {
    {"add",
     "usage: trackerctl add FILE.torrent [--name NAME]\n"
     "       trackerctl add HEX40 --name NAME\n"
     "\n"
     "Registers a torrent, so that its announces (within swarmCacheMs, 750 ms by default)\n"
     "and scrapes (at once) are served.\n"
     "From a .torrent file: the info hash is the SHA-1 of the file's bencoded `info`\n"
     "dictionary, the name is info's `name` (or `name.utf-8`) unless --name is given. A bad\n"
     "file (not bencode, truncated, no info dictionary) is refused and nothing changes.\n"
     "From a hash: 40 hex digits, and --name is required.\n"
     "Adding a registered torrent again is not an error: it is reported, and its name is\n"
     "replaced only when --name is given.\n"
     "\n"
     "BitTorrent v2: a hybrid (v1+v2) torrent is registered by its v1 (SHA-1) info hash;\n"
     "a pure v2 torrent is refused. This tracker serves v1 and hybrid torrents only (the\n"
     "`torrents.infohash` column holds one 20-byte hash, as in the PHP tracker).\n"
     "Names longer than 255 characters, invalid UTF-8 or characters the column's charset\n"
     "cannot hold are cut or replaced by U+FFFD, and reported.\n"},
    {"ban",
     "usage: trackerctl ban HASH|ID\n"
     "\n"
     "Bans a registered torrent: clients get \"Tracker error #6\" and scrapes no longer\n"
     "list it. Its peers and counters are kept. Scrapes see it at once; announces within\n"
     "about 1.5 s: the workers re-read the registry every 750 ms and may reuse a read of a\n"
     "swarm for swarmCacheMs (750 ms by default).\n"},
    {"unban",
     "usage: trackerctl unban HASH|ID\n"
     "\n"
     "Lifts a ban: the torrent is served again, by announces within about 1.5 s.\n"},
    {"remove",
     "usage: trackerctl remove HASH|ID\n"
     "\n"
     "Deletes the torrent and its peers (peers.tid cascades). Its announces then get\n"
     "\"Tracker error #5\" (not registered) until it is added again.\n"},
    {"list",
     "usage: trackerctl list [--banned] [--active] [--name TEXT] [--limit N] [--offset N]\n"
     "\n"
     "Registered torrents in id order, with seeders, leechers and completions.\n"
     "  --banned       banned torrents only\n"
     "  --active       torrents with at least one peer only\n"
     "  --name TEXT    names containing TEXT (literally, case-insensitively)\n"
     "  --limit N      at most N torrents (default 50; 0 = all)\n"
     "  --offset N     skip the first N matches (default 0)\n"},
    {"show",
     "usage: trackerctl show HASH|ID\n"
     "\n"
     "One torrent: id, info hash, name, banned, seeders, leechers, completions, when it\n"
     "was added and last updated.\n"},
    {"stats",
     "usage: trackerctl stats\n"
     "\n"
     "Totals over the database: torrents (banned, with peers), peers (seeders, leechers)\n"
     "and completions (the sum of every torrent's `downloaded`).\n"},
    {"migrate",
     "usage: trackerctl migrate\n"
     "\n"
     "Brings the configured database up to this version's schema: creates the PHP tracker's\n"
     "tables if missing (schema.sql), then applies each of our additive migrations that the\n"
     "`tracker_schema` table does not record yet, in order. Running it again applies nothing.\n"
     "The migrations are built into trackerctl: no repository is needed. The PHP code keeps\n"
     "working on a migrated database. Big `peers` tables are rebuilt by some migrations: run\n"
     "it once, when switching over, or in a quiet hour.\n"},
};

// --- Command line ---

struct Invocation {
    std::string configPath;
    bool json = false;
    bool help = false;
    std::string command;
    std::vector<std::string> positional;
    std::optional<std::string> name;
    bool banned = false;
    bool active = false;
    std::optional<std::string> limit;
    std::optional<std::string> offset;
};

struct UsageError {
    std::string message;
};

// Options may come before or after the command; `--opt=value` and `--opt value` both work.
std::variant<Invocation, UsageError> parseArguments(int argc, char** argv) {
    Invocation invocation;
    bool optionsEnded = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::optional<std::string> inlineValue;
        if (!optionsEnded && arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
            inlineValue = arg.substr(arg.find('=') + 1);
            arg = arg.substr(0, arg.find('='));
        }
        auto value = [&](std::optional<std::string>& out) -> bool {
            if (inlineValue) {
                out = *inlineValue;
            } else if (i + 1 < argc) {
                out = argv[++i];
            } else {
                return false;
            }
            return true;
        };
        bool ok = true;
        if (optionsEnded || arg.empty() || arg[0] != '-' || arg == "-") {
            if (invocation.command.empty())
                invocation.command = arg;
            else
                invocation.positional.push_back(arg);
        } else if (arg == "--") {
            optionsEnded = true;
        } else if (arg == "--help" || arg == "-h") {
            invocation.help = true;
        } else if (arg == "--json") {
            invocation.json = true;
        } else if (arg == "--banned") {
            invocation.banned = true;
        } else if (arg == "--active") {
            invocation.active = true;
        } else if (arg == "--config") {
            std::optional<std::string> path;
            ok = value(path);
            invocation.configPath = path.value_or("");
        } else if (arg == "--name") {
            ok = value(invocation.name);
        } else if (arg == "--limit") {
            ok = value(invocation.limit);
        } else if (arg == "--offset") {
            ok = value(invocation.offset);
        } else {
            return UsageError{"unknown option " + arg};
        }
        if (!ok)
            return UsageError{arg + " needs a value"};
        if (inlineValue && (arg == "--help" || arg == "--json" || arg == "--banned" ||
                            arg == "--active" || arg == "--")) {
            return UsageError{arg + " takes no value"};
        }
    }
    return invocation;
}

std::optional<std::uint64_t> parseCount(const std::string& text) {
    if (text.empty() || text.size() > 12 ||
        text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stoull(text);
}

std::optional<TorrentKey> parseTorrentKey(const std::string& text) {
    if (auto hash = tracker::torrent::parseHexInfoHash(text))
        return TorrentKey{*hash};
    if (auto id = parseCount(text); id && *id >= 1 && *id <= 0xffffffffu)
        return TorrentKey{static_cast<std::uint32_t>(*id)};
    return std::nullopt;
}

// --- Output ---

// Names come from .torrent files anyone can make: control bytes are not sent to the terminal.
std::string printable(const std::string& text) {
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
    }
    return out;
}

std::string dump(const json& value) {
    // Invalid UTF-8 (a raw .torrent name) must not make the JSON writer throw.
    return value.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string humanSize(std::uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 5) {
        value /= 1024;
        ++unit;
    }
    char text[64];
    if (unit == 0)
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

json rowJson(const TorrentRow& row) {
    return json{{"tid", row.tid},
                {"infoHash", tracker::torrent::toHex(row.infoHash)},
                {"name", row.name},
                {"banned", row.banned},
                {"seeders", row.seeders},
                {"leechers", row.leechers},
                {"completed", row.downloaded},
                {"added", row.added},
                {"updated", row.updated}};
}

// "tid 7  3f78...01b  "name"": how a torrent is named in one-line messages.
std::string oneLine(const TorrentRow& row) {
    return "tid " + std::to_string(row.tid) + "  " + tracker::torrent::toHex(row.infoHash) +
           "  \"" + printable(row.name) + "\"";
}

class Cli {
  public:
    explicit Cli(const Invocation& invocation) : args_(invocation) {}

    int run();

  private:
    int add();
    int setBanned(bool banned);
    int remove();
    int show();
    int list();
    int stats();
    int migrate();

    int usage(const std::string& message) const {
        std::cerr << "trackerctl: " << message << "\n\n"
                  << (kCommandHelp.count(args_.command) ? kCommandHelp.at(args_.command)
                                                        : kUsageText);
        return kUsage;
    }
    int failed(const std::string& message) const {
        if (args_.json)
            std::cout << dump(json{{"ok", false}, {"error", message}}) << "\n";
        else
            std::cerr << "trackerctl: " << message << "\n";
        return kFailed;
    }
    int failed(const AdminError& error) const {
        if (error.status == AdminStatus::Unavailable)
            return failed(error.message + " [" + target() + "]");
        return failed(error.message);
    }
    std::string target() const;
    bool connect(std::uint32_t queryTimeoutSeconds);
    std::optional<TorrentKey> keyArgument(int& exitCode);

    Invocation args_;
    tracker::Config config_;
    std::unique_ptr<tracker::db::ConnectionPool> pool_;
};

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
    pool_ = std::make_unique<tracker::db::ConnectionPool>(config_.database, 1,
                                                          std::chrono::milliseconds(1000));
    return true;
}

std::optional<TorrentKey> Cli::keyArgument(int& exitCode) {
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
        std::cout << (kCommandHelp.count(about) ? kCommandHelp.at(about) : kUsageText);
        return kOk;
    }
    if (kCommandHelp.count(args_.command) == 0)
        return usage("unknown command \"" + printable(args_.command) + "\"");
    if (args_.help) {
        std::cout << kCommandHelp.at(args_.command);
        return kOk;
    }
    bool listOptions = args_.banned || args_.active || args_.limit || args_.offset;
    if (listOptions && args_.command != "list")
        return usage("--banned, --active, --limit and --offset belong to `list`");
    if (args_.name && args_.command != "add" && args_.command != "list")
        return usage("--name belongs to `add` and `list`");

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
    return migrate();
}

// --- Commands ---

std::variant<std::string, std::string> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                      "cannot open " + path);
    std::string bytes;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        bytes.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (static_cast<std::streamsize>(bytes.size()) > kMaxTorrentBytes) {
            return std::variant<std::string, std::string>(
                std::in_place_index<1>, path + " is over 100 MiB: not a .torrent file");
        }
    }
    if (in.bad())
        return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                      "cannot read " + path);
    return std::variant<std::string, std::string>(std::in_place_index<0>, std::move(bytes));
}

int Cli::add() {
    if (args_.positional.size() != 1)
        return usage("add takes one FILE.torrent or HEX40");
    const std::string& what = args_.positional[0];
    std::optional<tracker::torrent::TorrentFile> file;
    tracker::protocol::InfoHash hash{};
    std::string name;
    if (auto parsed = tracker::torrent::parseHexInfoHash(what)) {
        if (!args_.name)
            return usage("--name NAME is required when adding an info hash");
        hash = *parsed;
        name = *args_.name;
    } else {
        // The file is read and checked before the database is touched: a bad one changes
        // nothing.
        auto bytes = readFile(what);
        if (bytes.index() == 1)
            return failed(std::get<1>(bytes));
        auto torrent = tracker::torrent::parseTorrentFile(std::get<0>(bytes));
        if (auto* error = std::get_if<tracker::torrent::TorrentFileError>(&torrent))
            return failed(what + ": " + error->message + "; nothing registered");
        file = std::get<tracker::torrent::TorrentFile>(torrent);
        hash = file->infoHash;
        name = args_.name.value_or(file->name);
    }
    if (!connect(60))
        return kUsage;
    tracker::admin::AdminStore store(*pool_);
    auto result = store.registerTorrent(hash, name, args_.name.has_value());
    if (auto* error = std::get_if<AdminError>(&result))
        return failed(*error);
    const auto& registration = std::get<tracker::admin::Registration>(result);

    if (args_.json) {
        json out{{"ok", true},
                 {"action", registration.created ? "registered" : "already registered"},
                 {"created", registration.created},
                 {"nameChanged", registration.nameChanged},
                 {"nameAdjusted", registration.nameAdjusted},
                 {"torrent", rowJson(registration.torrent)}};
        if (file) {
            out["file"] = json{{"name", file->name},         {"totalSize", file->totalSize},
                               {"files", file->fileCount},   {"announce", file->announceUrls},
                               {"private", file->isPrivate}, {"hybrid", file->hybrid}};
            if (file->hybrid) {
                out["file"]["v2InfoHash"] = file->v2InfoHashHex;
                out["note"] =
                    "hybrid v1+v2 torrent: registered by its v1 (SHA-1) info hash; announces "
                    "with its v2 hash are not served";
            }
        }
        std::cout << dump(out) << "\n";
        return kOk;
    }
    const TorrentRow& row = registration.torrent;
    if (registration.created) {
        std::cout << "registered: " << oneLine(row) << "\n";
    } else if (registration.nameChanged) {
        std::cout << "already registered, name changed: " << oneLine(row) << "\n";
    } else {
        std::cout << "already registered: " << oneLine(row) << (args_.name ? "" : " (name kept)")
                  << "\n";
    }
    if (registration.nameAdjusted) {
        std::cout << "note: the name was cut to 255 characters or had bytes the `name` column "
                     "cannot hold replaced by U+FFFD\n";
    }
    if (file) {
        std::cout << "  " << humanSize(file->totalSize) << " in " << file->fileCount
                  << (file->fileCount == 1 ? " file" : " files")
                  << (file->isPrivate ? ", private" : "") << "\n";
        for (const std::string& url : file->announceUrls)
            std::cout << "  tracker: " << printable(url) << "\n";
        if (file->hybrid) {
            std::cout << "note: hybrid v1+v2 torrent: registered by its v1 (SHA-1) info hash. "
                         "Its v2 hash ("
                      << file->v2InfoHashHex
                      << ") is not registered: this tracker serves v1 and hybrid torrents by "
                         "their v1 hash.\n";
        }
    }
    if (row.banned)
        std::cout << "note: this torrent is banned; `trackerctl unban " << row.tid
                  << "` to serve it\n";
    return kOk;
}

int Cli::setBanned(bool banned) {
    int exitCode = kOk;
    auto key = keyArgument(exitCode);
    if (!key)
        return exitCode;
    if (!connect(60))
        return kUsage;
    tracker::admin::AdminStore store(*pool_);
    auto result = store.setBanned(*key, banned);
    if (auto* error = std::get_if<AdminError>(&result))
        return failed(*error);
    const auto& change = std::get<tracker::admin::BanChange>(result);
    if (args_.json) {
        std::cout << dump(json{{"ok", true},
                               {"changed", change.changed},
                               {"torrent", rowJson(change.torrent)}})
                  << "\n";
        return kOk;
    }
    if (banned) {
        std::cout << (change.changed ? "banned: " : "already banned: ") << oneLine(change.torrent)
                  << "\n";
        if (change.changed)
            std::cout << "  its announces get \"Tracker error #6\" from now on\n";
    } else {
        std::cout << (change.changed ? "unbanned: " : "not banned: ") << oneLine(change.torrent)
                  << "\n";
    }
    return kOk;
}

int Cli::remove() {
    int exitCode = kOk;
    auto key = keyArgument(exitCode);
    if (!key)
        return exitCode;
    if (!connect(300))
        return kUsage;
    tracker::admin::AdminStore store(*pool_);
    auto result = store.remove(*key);
    if (auto* error = std::get_if<AdminError>(&result))
        return failed(*error);
    const auto& row = std::get<TorrentRow>(result);
    if (args_.json) {
        std::cout << dump(json{{"ok", true}, {"removed", rowJson(row)}}) << "\n";
        return kOk;
    }
    std::cout << "removed: " << oneLine(row) << "\n  with its " << row.seeders + row.leechers
              << " peers; its announces now get \"Tracker error #5\"\n";
    return kOk;
}

int Cli::show() {
    int exitCode = kOk;
    auto key = keyArgument(exitCode);
    if (!key)
        return exitCode;
    if (!connect(60))
        return kUsage;
    tracker::admin::AdminStore store(*pool_);
    auto result = store.show(*key);
    if (auto* error = std::get_if<AdminError>(&result))
        return failed(*error);
    const auto& row = std::get<TorrentRow>(result);
    if (args_.json) {
        std::cout << dump(json{{"ok", true}, {"torrent", rowJson(row)}}) << "\n";
        return kOk;
    }
    std::cout << "tid:        " << row.tid << "\n"
              << "info hash:  " << tracker::torrent::toHex(row.infoHash) << "\n"
              << "name:       " << printable(row.name) << "\n"
              << "banned:     " << (row.banned ? "yes" : "no") << "\n"
              << "seeders:    " << row.seeders << "\n"
              << "leechers:   " << row.leechers << "\n"
              << "completed:  " << row.downloaded << "\n"
              << "added:      " << row.added << "\n"
              << "updated:    " << row.updated << "\n";
    return kOk;
}

int Cli::list() {
    if (!args_.positional.empty())
        return usage("list takes options only");
    tracker::admin::ListFilter filter;
    filter.bannedOnly = args_.banned;
    filter.activeOnly = args_.active;
    filter.nameContains = args_.name.value_or("");
    if (args_.limit) {
        auto limit = parseCount(*args_.limit);
        if (!limit)
            return usage("--limit needs a whole number");
        filter.limit = *limit;
    }
    if (args_.offset) {
        auto offset = parseCount(*args_.offset);
        if (!offset)
            return usage("--offset needs a whole number");
        filter.offset = *offset;
    }
    if (!connect(60))
        return kUsage;
    tracker::admin::AdminStore store(*pool_);
    auto result = store.list(filter);
    if (auto* error = std::get_if<AdminError>(&result))
        return failed(*error);
    const auto& page = std::get<tracker::admin::TorrentPage>(result);
    if (args_.json) {
        json rows = json::array();
        for (const TorrentRow& row : page.torrents)
            rows.push_back(rowJson(row));
        std::cout << dump(json{{"ok", true},
                               {"total", page.total},
                               {"limit", filter.limit},
                               {"offset", filter.offset},
                               {"torrents", rows}})
                  << "\n";
        return kOk;
    }
    if (!page.torrents.empty()) {
        char line[160];
        std::snprintf(line, sizeof line, "%10s  %-40s  %8s  %8s  %9s  %-6s  %s\n", "tid",
                      "info hash", "seeders", "leechers", "completed", "banned", "name");
        std::cout << line;
        for (const TorrentRow& row : page.torrents) {
            std::snprintf(line, sizeof line, "%10u  %-40s  %8lld  %8lld  %9lld  %-6s  ", row.tid,
                          tracker::torrent::toHex(row.infoHash).c_str(),
                          static_cast<long long>(row.seeders), static_cast<long long>(row.leechers),
                          static_cast<long long>(row.downloaded), row.banned ? "yes" : "");
            std::cout << line << printable(row.name) << "\n";
        }
    }
    std::cout << page.torrents.size() << " of " << page.total << " matching torrents shown";
    if (filter.offset > 0)
        std::cout << " (from offset " << filter.offset << ")";
    std::cout << "\n";
    return kOk;
}

int Cli::stats() {
    if (!args_.positional.empty())
        return usage("stats takes no arguments");
    if (!connect(300))
        return kUsage;
    tracker::admin::AdminStore store(*pool_);
    auto result = store.totals();
    if (auto* error = std::get_if<AdminError>(&result))
        return failed(*error);
    const auto& totals = std::get<tracker::admin::TrackerTotals>(result);
    if (args_.json) {
        std::cout << dump(json{{"ok", true},
                               {"torrents", totals.torrents},
                               {"banned", totals.banned},
                               {"active", totals.active},
                               {"peers", totals.peers},
                               {"seeders", totals.seeders},
                               {"leechers", totals.leechers},
                               {"completions", totals.completions}})
                  << "\n";
        return kOk;
    }
    std::cout << "torrents:     " << totals.torrents << " (" << totals.banned << " banned, "
              << totals.active << " with peers)\n"
              << "peers:        " << totals.peers << " (" << totals.seeders << " seeders, "
              << totals.leechers << " leechers)\n"
              << "completions:  " << totals.completions << "\n";
    return kOk;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

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

}  // namespace

int main(int argc, char** argv) {
    // An admin tool reachable from the web would let anyone register, ban or delete torrents:
    // a web server running it (CGI sets these) gets nothing but a refusal.
    if (std::getenv("GATEWAY_INTERFACE") != nullptr || std::getenv("REQUEST_METHOD") != nullptr) {
        std::cerr << "trackerctl: refusing to run as a web (CGI) request: it is a command-line "
                     "admin tool\n";
        return kUsage;
    }
    auto parsed = parseArguments(argc, argv);
    if (auto* error = std::get_if<UsageError>(&parsed)) {
        std::cerr << "trackerctl: " << error->message << "\n\n" << kUsageText;
        return kUsage;
    }
    return Cli(std::get<Invocation>(parsed)).run();
}
