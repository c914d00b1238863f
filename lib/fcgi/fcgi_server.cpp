#include "fcgi/fcgi_server.h"

#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "util/log.h"

namespace tracker::fcgi {
namespace {

const char* statusText(int status) {
    switch (status) {
        case 200:
            return "200 OK";
        case 400:
            return "400 Bad Request";
        case 403:
            return "403 Forbidden";
        case 404:
            return "404 Not Found";
        case 405:
            return "405 Method Not Allowed";
        default:
            return "500 Internal Server Error";
    }
}

// Still an answer a BitTorrent client can read (a bencoded failure reason), never a bare 500.
service::HttpResponse internalError() {
    service::HttpResponse response;
    response.body = "d14:failure reason29:Tracker error: internal errore";
    return response;
}

std::string_view param(FCGX_Request& request, const char* name) {
    const char* value = FCGX_GetParam(name, request.envp);
    return value ? std::string_view(value) : std::string_view();
}

// SCRIPT_NAME as nginx's fastcgi_params and Apache's proxy_fcgi send it; DOCUMENT_URI and
// REQUEST_URI for servers configured otherwise.
std::string_view requestPath(FCGX_Request& request) {
    std::string_view path = param(request, "SCRIPT_NAME");
    if (path.empty())
        path = param(request, "DOCUMENT_URI");
    if (path.empty()) {
        path = param(request, "REQUEST_URI");
        path = path.substr(0, path.find('?'));
    }
    return path;
}

void writeResponse(FCGX_Request& request, const service::HttpResponse& response) {
    std::string head;
    head.reserve(256);
    head += "Status: ";
    head += statusText(response.status);
    head += "\r\nContent-Type: ";
    head += response.contentType;
    head += "\r\nContent-Length: ";
    head += std::to_string(response.stream ? response.streamBytes : response.body.size());
    if (!response.contentEncoding.empty()) {
        head += "\r\nContent-Encoding: ";
        head += response.contentEncoding;
    }
    if (response.varyOnEncoding)
        head += "\r\nVary: Accept-Encoding";
    if (response.noCache) {
        head +=
            "\r\nCache-Control: no-cache, must-revalidate\r\nPragma: no-cache"
            "\r\nExpires: Mon, 26 Jul 1997 05:00:00 GMT";
    }
    head += "\r\n\r\n";
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), request.out);
    if (param(request, "REQUEST_METHOD") == "HEAD")
        return;
    if (!response.stream) {
        FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), request.out);
        return;
    }
    bool complete = response.stream([&request](std::string_view piece) {
        return FCGX_PutStr(piece.data(), static_cast<int>(piece.size()), request.out) >= 0;
    });
    if (!complete)  // the web server sees a body shorter than its Content-Length
        util::logErrorThrottled("response", "a streamed response was cut short");
}

// Sent to a serving thread to end its accept() with EINTR at stop (libfcgi's accept loop gives
// up on EINTR once FCGX_ShutdownPending was called). A real-time signal: nothing else in the
// process, nor an admin's kill, uses it.
int wakeSignal() {
    return SIGRTMIN;
}

void ignoreWake(int) {}

// Installs the wake signal's handler without SA_RESTART, so that the interrupted accept()
// returns instead of being restarted.
void installWakeHandler() {
    struct sigaction action {};
    action.sa_handler = ignoreWake;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(wakeSignal(), &action, nullptr);
}

// The wake signal is let through only while a thread waits for a request: a request being
// answered is never interrupted (a write cut by EINTR would lose its response).
void letWakeThrough(bool through) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, wakeSignal());
    pthread_sigmask(through ? SIG_UNBLOCK : SIG_BLOCK, &set, nullptr);
}

std::int64_t steadyNanos() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::variant<std::unique_ptr<Server>, std::string> Server::open(const ServerOptions& options) {
    if (FCGX_Init() != 0)
        return std::string("FCGX_Init failed");
    if (options.listen.empty()) {
        if (FCGX_IsCGI()) {
            return std::string(
                "no listening socket: give --listen (host:port or a unix socket path) or "
                "start under a FastCGI spawner that passes the socket as fd 0");
        }
        return std::unique_ptr<Server>(new Server(0, false, "", options.threads));
    }
    // A unix socket gets its mode from the umask (the systemd unit's UMask=0007 makes it 0770,
    // group www-data): who may connect is the service manager's decision, not ours.
    bool isUnix = options.listen.find('/') != std::string::npos;
    int fd = FCGX_OpenSocket(options.listen.c_str(), options.backlog);
    if (fd < 0) {
        return "cannot listen on " + options.listen + ": " + std::strerror(errno);
    }
    return std::unique_ptr<Server>(
        new Server(fd, true, isUnix ? options.listen : "", options.threads));
}

Server::~Server() {
    if (fd_ > 0)
        ::close(fd_);
    if (!unixPath_.empty())
        ::unlink(unixPath_.c_str());
}

void Server::run(const Handler& handler, const std::function<void()>& started) {
    installWakeHandler();
    std::vector<std::thread> threads;
    threads.reserve(threads_);
    for (unsigned i = 0; i < threads_; ++i)
        idle_.push_back(std::make_unique<IdleConnection>());
    for (unsigned i = 0; i < threads_; ++i) {
        IdleConnection& idle = *idle_[i];
        threads.emplace_back([this, &handler, &idle] {
            serve(handler, idle);
            idle.finished = true;
        });
        idle.thread = threads.back().native_handle();
    }
    running_ = true;
    if (started)
        started();
    {
        std::unique_lock<std::mutex> lock(stopMutex_);
        stopped_.wait(lock, [this] { return stopping_.load(); });
    }
    wakeUntilFinished();
    for (auto& thread : threads)
        thread.join();
    running_ = false;
}

void Server::wakeUntilFinished() {
    // A thread between its look at the shutdown flag and accept() misses one signal: send
    // again until it has returned.
    for (;;) {
        bool all = true;
        for (auto& idle : idle_) {
            if (!idle->finished) {
                all = false;
                pthread_kill(idle->thread, wakeSignal());
            }
        }
        if (all)
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool Server::responsive(std::chrono::steady_clock::duration maxRequest) const {
    if (!running_ || stopping_)
        return false;
    const std::int64_t now = steadyNanos();
    const std::int64_t limit =
        std::chrono::duration_cast<std::chrono::nanoseconds>(maxRequest).count();
    for (const auto& idle : idle_) {
        std::int64_t since = idle->busySince.load(std::memory_order_relaxed);
        if (since == 0 || now - since < limit)
            return true;
    }
    return false;
}

void Server::stop() {
    {
        std::lock_guard<std::mutex> lock(stopMutex_);
        stopping_ = true;
    }
    stopped_.notify_all();
    FCGX_ShutdownPending();
    // A socket of our own is shut at once, so that new connections are refused (a web server
    // with several upstreams tries another). One handed over is not ours to shut: shutting it
    // would refuse connections for every later process that inherits it. The threads still in
    // accept() are woken by run() (wakeUntilFinished).
    if (ownSocket_)
        ::shutdown(fd_, SHUT_RDWR);
    // And every thread waiting on a kept connection: its read ends, libfcgi closes the
    // connection and goes back to the (shut) listening socket. A request nginx sends on that
    // connection at this very moment is refused; nginx answers it with 502.
    for (auto& idle : idle_) {
        std::lock_guard<std::mutex> lock(idle->mutex);
        if (idle->fd >= 0)
            ::shutdown(idle->fd, SHUT_RD);
    }
}

void Server::serve(const Handler& handler, IdleConnection& idle) {
    FCGX_Request request;
    FCGX_InitRequest(&request, fd_, 0);
    while (!stopping_) {
        {
            std::lock_guard<std::mutex> lock(idle.mutex);
            idle.fd = request.ipcFd;  // -1 unless the last request's connection was kept
        }
        if (stopping_)  // stop() may have looked before the fd was published
            break;
        letWakeThrough(true);
        int accepted = FCGX_Accept_r(&request);
        letWakeThrough(false);
        {
            std::lock_guard<std::mutex> lock(idle.mutex);
            idle.fd = -1;
        }
        if (accepted < 0) {
            if (stopping_)
                break;
            // EMFILE and the like: back off a little rather than spin.
            util::logErrorThrottled("accept",
                                    std::string("FastCGI accept failed: ") + std::strerror(errno));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        idle.busySince.store(steadyNanos(), std::memory_order_relaxed);
        service::HttpRequest plain;
        plain.method = param(request, "REQUEST_METHOD");
        plain.path = requestPath(request);
        plain.query = param(request, "QUERY_STRING");
        plain.remoteAddr = param(request, "REMOTE_ADDR");
        plain.acceptEncoding = param(request, "HTTP_ACCEPT_ENCODING");
        service::HttpResponse response;
        try {
            response = handler(plain);
        } catch (const std::exception& error) {
            util::logErrorThrottled("handler", std::string("request failed: ") + error.what());
            response = internalError();
        } catch (...) {
            util::logErrorThrottled("handler", "request failed with an unknown exception");
            response = internalError();
        }
        writeResponse(request, response);
        if (stopping_)
            request.keepConnection = 0;  // closed by Finish_r: nothing more comes on it
        FCGX_Finish_r(&request);
        idle.busySince.store(0, std::memory_order_relaxed);
        served_.fetch_add(1, std::memory_order_relaxed);
    }
    FCGX_Free(&request, 0);
}

}  // namespace tracker::fcgi
