#include "trackerctl/arguments.h"

#include "torrent/info_hash_hex.h"

namespace tracker::ctl {

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
        } else if (arg == "--dry-run") {
            invocation.dryRun = true;
        } else if (arg == "--definer") {
            ok = value(invocation.definer);
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
                            arg == "--active" || arg == "--dry-run" || arg == "--")) {
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

std::optional<admin::TorrentKey> parseTorrentKey(const std::string& text) {
    if (auto hash = tracker::torrent::parseHexInfoHash(text))
        return admin::TorrentKey{*hash};
    if (auto id = parseCount(text); id && *id >= 1 && *id <= 0xffffffffu)
        return admin::TorrentKey{static_cast<std::uint32_t>(*id)};
    return std::nullopt;
}

}  // namespace tracker::ctl
