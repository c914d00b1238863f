// The full scrape (every torrent) is tens of megabytes on a big tracker: it is built by a thread
// of its own, when asked for and older than maxAge, gzip-compressed into an unlinked temporary
// file, and served from there, a piece at a time: as it is to a client that accepts gzip,
// inflated on the way to one that does not. A request never builds it and waits for it only the
// first time (briefly); after that it gets the last copy while the next one is built. Nothing
// runs while nobody asks. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "service/http_types.h"

namespace tracker::service {

class FullScrape {
  public:
    using Clock = std::chrono::steady_clock;
    // Writes the whole bencoded answer through `write`, a piece at a time; false when it
    // could not be had (the database failed).
    using Builder = std::function<bool(const std::function<void(std::string_view)>& write)>;

    // One built answer, in its file. Shared by the requests sending it; the file goes with the
    // last of them.
    class Copy {
      public:
        explicit Copy(std::FILE* file) : file_(file) {}
        ~Copy();
        Copy(const Copy&) = delete;
        Copy& operator=(const Copy&) = delete;

        std::uint64_t gzipBytes = 0;   // what a client that accepts gzip is sent
        std::uint64_t plainBytes = 0;  // the bencoded answer's size
        Clock::time_point builtAt{};

        // The gzip bytes, or the answer inflated from them; false when the sink or the file
        // failed part way.
        bool sendGzip(const BodySink& sink) const;
        bool sendPlain(const BodySink& sink) const;

      private:
        std::FILE* file_;
    };

    struct Stats {
        std::uint64_t builds = 0;
        std::uint64_t failedBuilds = 0;
        std::uint64_t gzipBytes = 0;   // of the current copy
        std::uint64_t plainBytes = 0;  // of the current copy
        std::chrono::milliseconds lastBuildTook{0};
    };

    // `firstWait`: how long a request waits when there is no copy at all yet.
    FullScrape(std::chrono::seconds maxAge, Builder build,
               std::chrono::milliseconds firstWait = std::chrono::milliseconds(1000));
    ~FullScrape();
    FullScrape(const FullScrape&) = delete;
    FullScrape& operator=(const FullScrape&) = delete;

    // The latest copy, asking for a new one when it is older than maxAge; null when none has
    // been built yet (the first build is running, or the database failed).
    std::shared_ptr<const Copy> get();
    Stats stats() const;

  private:
    void run();
    std::shared_ptr<const Copy> build();

    std::chrono::seconds maxAge_;
    Builder build_;
    std::chrono::milliseconds firstWait_;

    mutable std::mutex mutex_;
    std::condition_variable wanted_;  // the builder waits for a request
    std::condition_variable built_;   // a first request waits for the builder
    std::shared_ptr<const Copy> current_;
    bool requested_ = false;
    bool building_ = false;
    bool stopping_ = false;
    Clock::time_point failedAt_{};
    Stats stats_;
    std::thread thread_;
};

// Whether an Accept-Encoding header takes gzip (a `gzip` coding, or `*`, not at q=0).
bool acceptsGzip(std::string_view acceptEncoding);

}  // namespace tracker::service
