#include "tracker_fcgi/options.h"

#include <cstdio>

namespace tracker::app {
namespace {

const char* kUsage =
    "usage: tracker-fcgi --config FILE [--listen ADDRESS]\n"
    "\n"
    "The BitTorrent tracker's FastCGI worker pool: serves /announce and /scrape.\n"
    "\n"
    "  --config FILE     the tracker's JSON config (see deploy/tracker.example.json)\n"
    "  --listen ADDRESS  a unix socket path, host:port or :port; overrides the config's\n"
    "                    \"listen\". Without either, the socket on fd 0 is used (spawn-fcgi,\n"
    "                    Apache mod_fcgid).\n"
    "  --check           read the config, connect to the database once, check that it\n"
    "                    has our migrations (trackerctl migrate), and exit\n"
    "  --help            this text\n";

int usageError(const std::string& message) {
    std::fprintf(stderr, "tracker-fcgi: %s\n\n%s", message.c_str(), kUsage);
    return 2;
}

}  // namespace

FcgiCommandLine parseFcgiOptions(int argc, char** argv) {
    FcgiOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (arg == "--config" && i + 1 < argc) {
            options.configPath = argv[++i];
        } else if (arg == "--listen" && i + 1 < argc) {
            options.listen = argv[++i];
        } else if (arg == "--check") {
            options.check = true;
        } else {
            return usageError("unknown or incomplete argument \"" + arg + "\"");
        }
    }
    if (options.configPath.empty())
        return usageError("--config FILE is required");
    return options;
}

}  // namespace tracker::app
