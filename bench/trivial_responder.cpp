// The benchmark's ceiling: a threaded libfcgi responder that answers every request with a fixed
// announce body and does no work. Measured behind the same nginx as the tracker, it shows what
// nginx + the FastCGI hop cost by themselves.
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: trivial_responder SOCKET_PATH [THREADS]\n");
        return 2;
    }
    int threads = argc > 2 ? std::atoi(argv[2]) : 16;
    signal(SIGPIPE, SIG_IGN);
    // bench/run stops it with SIGTERM: undo a blocked or ignored SIGTERM inherited from the shell.
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    FCGX_Init();
    int fd = FCGX_OpenSocket(argv[1], 1024);
    if (fd < 0) {
        std::perror("FCGX_OpenSocket");
        return 1;
    }
    static const std::string body =
        "d8:completei5e10:downloadedi0e10:incompletei5e8:intervali900e12:min intervali300e"
        "5:peers0:e";
    static const std::string response =
        "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([fd] {
            FCGX_Request request;
            FCGX_InitRequest(&request, fd, 0);
            while (FCGX_Accept_r(&request) >= 0) {
                FCGX_PutStr(response.data(), static_cast<int>(response.size()), request.out);
                FCGX_Finish_r(&request);
            }
        });
    }
    for (auto& thread : pool)
        thread.join();
    return 0;
}
