// trackerctl's commands on torrents: add, ban and unban, remove, show, list, stats.
#include <fstream>
#include <iostream>

#include "torrent/info_hash_hex.h"
#include "torrent/torrent_file.h"
#include "trackerctl/cli.h"
#include "trackerctl/output.h"

namespace tracker::ctl {
namespace {

using admin::AdminError;
using admin::TorrentRow;
using nlohmann::json;

// A .torrent of a few million pieces is under 100 MB; anything bigger is not one.
constexpr std::streamsize kMaxTorrentBytes = 100 << 20;

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

}  // namespace

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

}  // namespace tracker::ctl
