#include "tracker_fcgi/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <ctime>
#include <utility>

#include "util/log.h"

namespace tracker::app {

SystemdNotify::SystemdNotify() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && *socket != '\0';
    if (!enabled_)
        return;
    std::uint64_t usec = 0;
    // 0 keeps the variables: every thread's sd_notify needs NOTIFY_SOCKET.
    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_ = std::chrono::microseconds(usec);
}

SystemdNotify::~SystemdNotify() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (pinger_.joinable())
        pinger_.join();
}

void SystemdNotify::send(const std::string& state) {
    if (!enabled_)
        return;
    int sent = sd_notify(0, state.c_str());
    if (sent < 0)
        util::logErrorThrottled("sd_notify", "cannot notify systemd (" + state + ")");
}

void SystemdNotify::ready(const std::string& status) {
    send("READY=1\nSTATUS=" + status);
}

void SystemdNotify::reloading() {
    // MONOTONIC_USEC: what a Type=notify-reload service manager (systemd 253 and later) wants
    // with RELOADING=1; older ones ignore it.
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    std::uint64_t usec = static_cast<std::uint64_t>(now.tv_sec) * 1000000u +
                         static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotify::stopping() {
    send("STOPPING=1");
}

void SystemdNotify::startWatchdog(std::function<bool()> healthy) {
    if (!enabled_ || watchdog_.count() == 0 || pinger_.joinable())
        return;
    pinger_ = std::thread([this, healthy = std::move(healthy)] {
        const auto interval = watchdog_ / 2;
        std::unique_lock<std::mutex> lock(mutex_);
        while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
            if (healthy())
                send("WATCHDOG=1");
            else
                util::logErrorThrottled("watchdog",
                                        "every worker thread is stuck in a request: no watchdog "
                                        "ping (systemd restarts the process if it stays so)");
        }
    });
}

}  // namespace tracker::app
