// The FastCGI adapter: N threads accepting requests on one listening socket, each turning a
// FastCGI request into an HttpRequest and the handler's HttpResponse back into bytes. The only
// code that includes fcgiapp.h.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "service/http_types.h"

namespace tracker::fcgi {

struct ServerOptions {
    // "" = the socket on fd 0 (spawn-fcgi, mod_fcgid); "host:port" or ":port" = TCP;
    // anything else = a unix socket path (created; its mode follows the umask).
    std::string listen;
    int backlog = 1024;
    unsigned threads = 16;
};

using Handler = std::function<service::HttpResponse(const service::HttpRequest&)>;

class Server {
  public:
    // Opens (or adopts) the listening socket; an error says why.
    static std::variant<std::unique_ptr<Server>, std::string> open(const ServerOptions& options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves on options.threads threads until stop(); `started` (when given) runs once every
    // thread is running. Returns when every thread has finished its request in flight.
    void run(const Handler& handler, const std::function<void()>& started = {});
    // Stops accepting; requests in flight complete, and connections the web server keeps
    // open between requests (`fastcgi_keep_conn`) are closed. A socket handed over on fd 0
    // stays listening: it belongs to whoever passed it (systemd's socket unit keeps it across
    // a restart, and the connections made meanwhile wait in its backlog for the next
    // process). Safe from any thread (not a signal handler).
    void stop();
    std::uint64_t served() const { return served_.load(); }
    // True while some thread waits for a request or has been in its current one for less
    // than `maxRequest`: the process can still answer. False before run() and after stop().
    bool responsive(std::chrono::steady_clock::duration maxRequest) const;

  private:
    Server(int fd, bool ownSocket, std::string unixPath, unsigned threads)
        : fd_(fd), ownSocket_(ownSocket), unixPath_(std::move(unixPath)), threads_(threads) {}
    // One serving thread's state. `fd` is the connection it waits on for its next request,
    // when the web server keeps it open: stop() shuts it, or the thread would wait for nginx
    // to hang up (forever).
    struct IdleConnection {
        std::mutex mutex;
        int fd = -1;
        pthread_t thread{};
        std::atomic<bool> finished{false};
        // steady_clock nanoseconds since the epoch at which its request arrived; 0 while it
        // waits for one.
        std::atomic<std::int64_t> busySince{0};
    };

    void serve(const Handler& handler, IdleConnection& idle);
    // After stop(): interrupts the threads' accept() until each has returned (an accept on a
    // socket that stays listening ends only on a signal).
    void wakeUntilFinished();

    int fd_;
    bool ownSocket_;        // opened by us (not handed over): shut at stop()
    std::string unixPath_;  // removed on exit when we created it
    unsigned threads_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> served_{0};
    std::vector<std::unique_ptr<IdleConnection>> idle_;  // one per thread
    std::mutex stopMutex_;
    std::condition_variable stopped_;
    std::atomic<bool> running_{false};
};

}  // namespace tracker::fcgi
