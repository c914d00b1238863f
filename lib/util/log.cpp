#include "util/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <string>

namespace tracker::util {
namespace {

std::mutex& logMutex() {
    static std::mutex mutex;
    return mutex;
}

void write(const char* level, std::string_view message) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    std::fprintf(stderr, "%s %s %.*s\n", stamp, level, static_cast<int>(message.size()),
                 message.data());
}

}  // namespace

void logInfo(std::string_view message) {
    std::lock_guard<std::mutex> lock(logMutex());
    write("info", message);
}

void logError(std::string_view message) {
    std::lock_guard<std::mutex> lock(logMutex());
    write("error", message);
}

void logErrorThrottled(std::string_view kind, std::string_view message) {
    struct State {
        std::chrono::steady_clock::time_point last{};
        unsigned long held = 0;
    };
    static std::map<std::string, State, std::less<>> states;
    std::lock_guard<std::mutex> lock(logMutex());
    auto it = states.find(kind);
    if (it == states.end())
        it = states.emplace(std::string(kind), State{}).first;
    State& state = it->second;
    auto now = std::chrono::steady_clock::now();
    if (now - state.last < std::chrono::seconds(1)) {
        ++state.held;
        return;
    }
    std::string text(message);
    if (state.held > 0)
        text += " (" + std::to_string(state.held) + " more like it held back)";
    state.last = now;
    state.held = 0;
    write("error", text);
}

}  // namespace tracker::util
