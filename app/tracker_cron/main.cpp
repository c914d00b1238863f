// tracker-cron: the cleanup, run from crontab (replaces the PHP tracker's cron.php). Deletes
// expired peers and dead torrents, prints one summary line, exits: 0 done (or another run
// busy), 1 database unreachable or failed, 2 usage or config error.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "admin/cleanup.h"
#include "config/config.h"
#include "protocol/numbers.h"

namespace {

const char* kUsage =
    "usage: tracker-cron [--config FILE] [--dry-run] [--wait SECONDS]\n"
    "\n"
    "Deletes peers not heard from for minInterval + maxInterval seconds, then torrents with no\n"
    "peers and no announce, completion or registration for torrentTtlDays days (0: never),\n"
    "cleanupBatchSize rows per transaction, while the workers keep serving. Run it from crontab\n"
    "(see deploy/tracker-cron.crontab). One run at a time per database.\n"
    "\n"
    "  --config FILE     the tracker's JSON config; default $TRACKER_CONFIG, else\n"
    "                    /etc/tracker/tracker.json\n"
    "  --dry-run         count what would be removed, remove nothing\n"
    "  --wait SECONDS    when another tracker-cron is running, wait up to SECONDS for it\n"
    "                    (default 0: say so and exit 0)\n"
    "  --help            this text\n"
    "\n"
    "Exit status: 0 done, or another run was busy; 1 the database cannot be reached or failed;\n"
    "2 usage or config error, or started as a CGI (web) request.\n";

constexpr std::uint32_t kMaxWaitSeconds = 86400;

struct Options {
    std::string configPath;
    bool dryRun = false;
    std::uint32_t waitSeconds = 0;
};

int usageError(const std::string& message) {
    std::fprintf(stderr, "tracker-cron: %s\n\n%s", message.c_str(), kUsage);
    return 2;
}

std::string plural(std::uint64_t count, const char* noun) {
    return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// What the run did, e.g. "removed 12 peers and 1 torrent in 0.04 s".
std::string summary(const tracker::admin::CleanupResult& result, bool dryRun) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", result.elapsed.count());
    return std::string(dryRun ? "would remove " : "removed ") +
           plural(result.peersRemoved, "peer") + " and " +
           plural(result.torrentsRemoved, "torrent") + " in " + seconds + " s" +
           (dryRun ? " (dry run)" : "");
}

}  // namespace

int main(int argc, char** argv) {
    // The PHP's cron.php could be fetched from the web, letting anyone trigger deletes. A web
    // server running this as a CGI sets these: refuse before doing anything else.
    if (std::getenv("GATEWAY_INTERFACE") != nullptr || std::getenv("REQUEST_METHOD") != nullptr) {
        std::fputs("tracker-cron: refusing to run as a CGI (web) request; run it from crontab\n",
                   stderr);
        return 2;
    }

    Options options;
    options.configPath = tracker::defaultConfigPath();
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (arg == "--config" && i + 1 < argc) {
            options.configPath = argv[++i];
        } else if (arg == "--dry-run") {
            options.dryRun = true;
        } else if (arg == "--wait" && i + 1 < argc) {
            auto seconds = tracker::protocol::parseUnsigned(argv[++i]);
            if (!seconds || *seconds > kMaxWaitSeconds) {
                return usageError("--wait takes a number of seconds from 0 to " +
                                  std::to_string(kMaxWaitSeconds));
            }
            options.waitSeconds = static_cast<std::uint32_t>(*seconds);
        } else {
            return usageError("unknown or incomplete argument \"" + arg + "\"");
        }
    }

    auto loaded = tracker::loadConfig(options.configPath);
    if (auto* error = std::get_if<tracker::ConfigError>(&loaded)) {
        std::fprintf(stderr, "tracker-cron: %s\n", error->message.c_str());
        return 2;
    }
    const auto& config = std::get<tracker::Config>(loaded);

    tracker::admin::CleanupPolicy policy = tracker::admin::cleanupPolicyFor(config);
    policy.dryRun = options.dryRun;
    policy.lockWaitSeconds = options.waitSeconds;
    const auto result = tracker::admin::runCleanup(config.database, policy);

    using tracker::admin::CleanupStatus;
    switch (result.status) {
        case CleanupStatus::Done:
            std::printf("tracker-cron: %s\n", summary(result, options.dryRun).c_str());
            return 0;
        case CleanupStatus::AnotherRunning:
            // Not a failure: the other run does the work. One line, so cron logs stay quiet.
            std::printf("tracker-cron: %s\n", result.message.c_str());
            return 0;
        case CleanupStatus::Unreachable:
            std::fprintf(stderr, "tracker-cron: %s\n", result.message.c_str());
            return 1;
        case CleanupStatus::Failed:
            break;
    }
    std::fprintf(stderr, "tracker-cron: %s (before it failed: %s)\n", result.message.c_str(),
                 summary(result, options.dryRun).c_str());
    return 1;
}
