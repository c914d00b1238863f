// The full scrape (every torrent) is megabytes on a big tracker: it is built at most once per
// `maxAge` by one request while the others are served the previous copy, so that it never
// stalls announces or hammers the database. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace tracker::service {

class FullScrapeCache {
  public:
    using Clock = std::chrono::steady_clock;
    // Builds a fresh body, or nothing when the database cannot be read.
    using Builder = std::function<std::optional<std::string>()>;

    explicit FullScrapeCache(std::chrono::seconds maxAge) : maxAge_(maxAge) {}

    // The cached body when fresh; else builds it (one caller at a time; the others get the
    // stale copy if there is one, or wait for the build). Nothing when no body can be had.
    std::shared_ptr<const std::string> get(const Builder& build);

  private:
    std::chrono::seconds maxAge_;
    std::mutex mutex_;       // guards body_ and builtAt_
    std::mutex buildMutex_;  // one build at a time
    std::shared_ptr<const std::string> body_;
    Clock::time_point builtAt_{};
    // When the last build failed: callers that queued behind it give up for a second rather
    // than each rebuilding in turn against a database that just failed.
    Clock::time_point failedAt_{};
};

}  // namespace tracker::service
