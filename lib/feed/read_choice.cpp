#include "feed/read_choice.h"

namespace tracker::feed {

ReadChoice::Switch ReadChoice::moveTo(Server server, Reason why) {
    Switch change;
    change.happened = server != server_;
    change.to = server;
    change.why = why;
    server_ = server;
    reason_ = why;
    return change;
}

ReadChoice::Switch ReadChoice::replicaFailed(Clock::time_point now) {
    retryAt_ = now + options_.retryDown;
    return moveTo(Server::Primary, Reason::Down);
}

ReadChoice::Switch ReadChoice::observe(Clock::duration lag) {
    retryAt_ = Clock::time_point{};
    Clock::duration bound = server_ == Server::Replica ? options_.maxLag : options_.maxLag / 2;
    if (lag > bound)
        return moveTo(Server::Primary, Reason::Lagging);
    return moveTo(Server::Replica, Reason::Fresh);
}

const char* ReadChoice::describe(Reason reason) {
    switch (reason) {
        case Reason::Fresh:
            return "within its lag bound";
        case Reason::Lagging:
            return "further behind the primary than maxLagMs";
        case Reason::Down:
            return "unreachable";
    }
    return "";
}

}  // namespace tracker::feed
