// SIGTERM, SIGINT and SIGHUP, taken off every thread and waited for by one: the way
// tracker-fcgi learns that it must finish the requests in flight and exit.
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
    // Waits for one of them on a thread of its own, then calls `onStop` there.
    void onSignal(std::function<void()> onStop);
    // Joins the waiting thread (after onStop has run).
    void join();

  private:
    sigset_t signals_;
    std::thread waiter_;
};

}  // namespace tracker::app
