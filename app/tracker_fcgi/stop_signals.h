// SIGTERM, SIGINT and SIGHUP, taken off every thread and waited for by one: the way
// tracker-fcgi learns that it must finish the requests in flight and exit (TERM, INT), or
// read its config again and go on serving (HUP, as logrotate and opentracker habits send).
#pragma once

#include <signal.h>

#include <functional>
#include <thread>

namespace tracker::app {

class StopSignals {
  public:
    // Blocks the signals in the calling thread and every thread it starts from now on: call
    // it before any other thread exists. Ignores SIGPIPE (a web server that hangs up).
    StopSignals();
    // Waits for them on a thread of its own: `onReload` there at each SIGHUP, then `onStop`
    // at SIGTERM or SIGINT, which ends the wait.
    void onSignal(std::function<void()> onStop, std::function<void()> onReload);
    // Joins the waiting thread (after onStop has run).
    void join();

  private:
    sigset_t signals_;
    std::thread waiter_;
};

}  // namespace tracker::app
