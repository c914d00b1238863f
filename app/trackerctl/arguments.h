// trackerctl's command line: options anywhere on the line, `--opt=value` or `--opt value`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "admin/admin_store.h"

namespace tracker::ctl {

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
    bool dryRun = false;                 // migrate: say what it would do, change nothing
    std::optional<std::string> definer;  // migrate: the account the triggers run as
};

struct UsageError {
    std::string message;
};

std::variant<Invocation, UsageError> parseArguments(int argc, char** argv);
// A whole number of at most 12 digits.
std::optional<std::uint64_t> parseCount(const std::string& text);
// A 40-digit hex info hash or a torrent id.
std::optional<admin::TorrentKey> parseTorrentKey(const std::string& text);

}  // namespace tracker::ctl
