// trackerctl: the tracker's admin tool. Registers torrents (from a .torrent file or a hex info
// hash), bans, unbans, removes, lists and shows them, prints totals and migrates the database.
// Human output by default, --json for scripts. Exit status: 0 done, 1 failed, 2 usage.
#include <cstdlib>
#include <iostream>

#include "trackerctl/arguments.h"
#include "trackerctl/cli.h"
#include "trackerctl/help.h"

int main(int argc, char** argv) {
    // An admin tool reachable from the web would let anyone register, ban or delete torrents:
    // a web server running it (CGI sets these) gets nothing but a refusal.
    if (std::getenv("GATEWAY_INTERFACE") != nullptr || std::getenv("REQUEST_METHOD") != nullptr) {
        std::cerr << "trackerctl: refusing to run as a web (CGI) request: it is a command-line "
                     "admin tool\n";
        return tracker::ctl::kUsage;
    }
    auto parsed = tracker::ctl::parseArguments(argc, argv);
    if (auto* error = std::get_if<tracker::ctl::UsageError>(&parsed)) {
        std::cerr << "trackerctl: " << error->message << "\n\n" << tracker::ctl::kUsageText;
        return tracker::ctl::kUsage;
    }
    return tracker::ctl::Cli(std::get<tracker::ctl::Invocation>(parsed)).run();
}
