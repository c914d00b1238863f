#include "tracker_fcgi/stop_signals.h"

#include <pthread.h>

#include <cstring>
#include <string>

#include "util/log.h"

namespace tracker::app {

StopSignals::StopSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

void StopSignals::onSignal(std::function<void()> onStop, std::function<void()> onReload) {
    waiter_ = std::thread([this, onStop = std::move(onStop), onReload = std::move(onReload)] {
        for (;;) {
            int received = 0;
            sigwait(&signals_, &received);
            if (received == SIGHUP) {
                util::logInfo("received Hangup: reading the config again");
                onReload();
                continue;
            }
            util::logInfo(std::string("received ") + strsignal(received) +
                          ": finishing requests in flight");
            onStop();
            return;
        }
    });
}

void StopSignals::join() {
    if (waiter_.joinable())
        waiter_.join();
}

}  // namespace tracker::app
