// Which server the replica's feed reads, when a database replica is configured: the replica
// while it is within maxLag of the primary; the primary while it lags, or is unreachable (tried
// again every retryDown), and until it is back within half of maxLag (so that a replica
// hovering at the bound does not flap). The sequence numbers are the same on both servers, so
// a switch costs no reload. Pure; one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tracker::feed {

class ReadChoice {
  public:
    using Clock = std::chrono::steady_clock;
    enum class Server { Primary, Replica };
    // Why the feed reads the primary (Fresh: it reads the replica).
    enum class Reason { Fresh, Lagging, Down };

    struct Options {
        Clock::duration maxLag = std::chrono::seconds(3);
        Clock::duration retryDown = std::chrono::seconds(2);
    };

    // A change of server, for the log and the metrics.
    struct Switch {
        bool happened = false;
        Server to = Server::Primary;
        Reason why = Reason::Fresh;
    };

    explicit ReadChoice(Options options) : options_(options) {}

    // Whether to read the replica's counter now: not while it is down and not due for a retry.
    bool tryReplica(Clock::time_point now) const { return now >= retryAt_; }
    // Reading the replica failed at `now`.
    Switch replicaFailed(Clock::time_point now);
    // The replica answered, `lag` behind the primary.
    Switch observe(Clock::duration lag);

    Server server() const { return server_; }
    Reason reason() const { return reason_; }
    static const char* describe(Reason reason);

  private:
    Switch moveTo(Server server, Reason why);

    Options options_;
    Server server_ = Server::Primary;
    Reason reason_ = Reason::Down;  // not observed yet
    Clock::time_point retryAt_{};
};

}  // namespace tracker::feed
