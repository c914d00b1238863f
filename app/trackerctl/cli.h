// trackerctl's commands on one invocation: each reads the config, connects, does its one
// thing and says what it did (as text, or one JSON object with --json). Exit status: 0 done,
// 1 failed, 2 usage.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "admin/admin_store.h"
#include "config/config.h"
#include "db/connection_pool.h"
#include "trackerctl/arguments.h"

namespace tracker::ctl {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

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
    int migrationPlan();
    int grants();

    // A usage error: says so with the command's help; exit status 2.
    int usage(const std::string& message) const;
    // A failed operation: says so (as JSON with --json); exit status 1.
    int failed(const std::string& message) const;
    int failed(const admin::AdminError& error) const;
    std::string target() const;
    bool connect(std::uint32_t queryTimeoutSeconds);
    std::optional<admin::TorrentKey> keyArgument(int& exitCode);

    Invocation args_;
    Config config_;
    std::unique_ptr<db::ConnectionPool> pool_;
};

}  // namespace tracker::ctl
