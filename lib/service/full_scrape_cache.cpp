#include "service/full_scrape_cache.h"

namespace tracker::service {

std::shared_ptr<const std::string> FullScrapeCache::get(const Builder& build) {
    std::shared_ptr<const std::string> stale;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (body_ && Clock::now() - builtAt_ < maxAge_)
            return body_;
        stale = body_;
    }
    std::unique_lock<std::mutex> building(buildMutex_, std::defer_lock);
    if (stale) {
        // Someone is already building: serve the previous copy rather than queue up.
        if (!building.try_lock())
            return stale;
    } else {
        building.lock();
    }
    {
        // Built by the caller we waited for? Or did its build just fail?
        std::lock_guard<std::mutex> lock(mutex_);
        if (body_ && Clock::now() - builtAt_ < maxAge_)
            return body_;
        if (Clock::now() - failedAt_ < std::chrono::seconds(1))
            return stale;
    }
    std::optional<std::string> fresh = build();
    if (!fresh) {
        std::lock_guard<std::mutex> lock(mutex_);
        failedAt_ = Clock::now();
        return stale;
    }
    auto body = std::make_shared<const std::string>(std::move(*fresh));
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = body;
    builtAt_ = Clock::now();
    return body;
}

}  // namespace tracker::service
