// tracker-fcgi's messages to systemd (sd_notify) when it runs as a Type=notify service:
// READY=1 once the workers accept, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1
// at a stop, and WATCHDOG=1 while the process can still answer. Without NOTIFY_SOCKET (not
// started by systemd, or not as Type=notify) every call does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tracker::app {

class SystemdNotify {
  public:
    // Reads NOTIFY_SOCKET and WATCHDOG_USEC (and WATCHDOG_PID, which must name this process).
    SystemdNotify();
    ~SystemdNotify();  // stops the watchdog thread
    SystemdNotify(const SystemdNotify&) = delete;
    SystemdNotify& operator=(const SystemdNotify&) = delete;

    void ready(const std::string& status);
    void reloading();
    void stopping();

    // With WATCHDOG_USEC set: a thread sends WATCHDOG=1 every half of it, each time
    // `healthy()` says the process can answer; when it cannot, no ping, and systemd kills and
    // restarts the process once WATCHDOG_USEC has passed without one. Nothing otherwise.
    void startWatchdog(std::function<bool()> healthy);
    // WATCHDOG_USEC, or zero when the watchdog is off.
    std::chrono::microseconds watchdogTimeout() const { return watchdog_; }

  private:
    void send(const std::string& state);

    bool enabled_ = false;
    std::chrono::microseconds watchdog_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread pinger_;
};

}  // namespace tracker::app
