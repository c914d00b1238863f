// tracker-fcgi's command line: the config file, an optional listen address, --check.
#pragma once

#include <optional>
#include <string>
#include <variant>

namespace tracker::app {

struct FcgiOptions {
    std::string configPath;
    std::optional<std::string> listen;  // overrides the config's "listen"
    bool check = false;                 // check the config and the database, then exit
};

// What to do: run with these options, or exit now with this status (having printed the help
// or the usage error).
using FcgiCommandLine = std::variant<FcgiOptions, int>;
FcgiCommandLine parseFcgiOptions(int argc, char** argv);

}  // namespace tracker::app
