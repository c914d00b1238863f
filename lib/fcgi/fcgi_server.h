// The FastCGI adapter: N threads accepting requests on one listening socket, each turning a
// FastCGI request into an HttpRequest and the handler's HttpResponse back into bytes. The only
// code that includes fcgiapp.h.
#pragma once

#include <atomic>
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

    // Serves on options.threads threads until stop(); returns when every thread has finished
    // its request in flight.
    void run(const Handler& handler);
    // Stops accepting; requests in flight complete, and connections the web server keeps
    // open between requests (`fastcgi_keep_conn`) are closed. Safe from any thread (not a
    // signal handler).
    void stop();
    std::uint64_t served() const { return served_.load(); }

  private:
    Server(int fd, std::string unixPath, unsigned threads)
        : fd_(fd), unixPath_(std::move(unixPath)), threads_(threads) {}
    // The connection a thread waits on for its next request, when the web server keeps it
    // open: stop() shuts it, or the thread would wait for nginx to hang up (forever).
    struct IdleConnection {
        std::mutex mutex;
        int fd = -1;
    };

    void serve(const Handler& handler, IdleConnection& idle);

    int fd_;
    std::string unixPath_;  // removed on exit when we created it
    unsigned threads_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> served_{0};
    std::vector<std::unique_ptr<IdleConnection>> idle_;  // one per thread
};

}  // namespace tracker::fcgi
