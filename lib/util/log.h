// Minimal thread-safe logging to stderr (the service manager or the quick start keeps it),
// with a per-message-kind rate limit so that a database outage does not flood the log.
#pragma once

#include <string_view>

namespace tracker::util {

void logInfo(std::string_view message);
void logError(std::string_view message);
// Logs at most once per second for the given kind; counts what it held back.
void logErrorThrottled(std::string_view kind, std::string_view message);

}  // namespace tracker::util
