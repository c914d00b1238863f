// What the write-behind's flushes cost a database primary in its CPU, measured through the
// tracker's own code (applyPeerWrites) against an otherwise idle server: the price of one more
// numbered transaction (the same rows in twice the transactions) and of a row. Each worker
// host flushes a few times a second, so the first is what every host added costs the primary
// whatever its load; bench/README.md's sizing comes from these figures. The server's CPU is
// the sum over its threads' run time (/proc/PID/task/*/schedstat, in nanoseconds).
//
//   flush_cost SOCKET DATABASE SERVER_PID [ROUNDS]
//
// Registers a torrent of its own (a random info hash) and removes it, with its peers, at the
// end. bench/flush_cost.sh runs it against a primary with a replica attached.
#include <dirent.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "admin/admin_store.h"
#include "db/connection_pool.h"
#include "feed/peer_writer.h"

using namespace std::chrono_literals;
using tracker::feed::PeerWrite;

namespace {

// The run time of every thread of process `pid` so far, in nanoseconds. A thread that ends
// between two readings takes its time with it: the server's connection threads live on.
std::uint64_t serverNanoseconds(int pid) {
    std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    std::uint64_t total = 0;
    DIR* dir = opendir(tasks.c_str());
    if (dir == nullptr)
        throw std::runtime_error("cannot read " + tasks + ": is SERVER_PID the server's?");
    while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.')
            continue;
        std::ifstream schedstat(tasks + "/" + entry->d_name + "/schedstat");
        std::uint64_t running = 0;
        if (schedstat >> running)
            total += running;
    }
    closedir(dir);
    return total;
}

struct Cost {
    double serverMicroseconds;  // the server's CPU per transaction
    double wallMicroseconds;    // the writer's wait per transaction
};

// Runs `transactions` numbered transactions of `rows` new peers each, one at a time.
Cost measure(tracker::db::ConnectionPool& pool, std::uint32_t tid, int pid, int transactions,
             int rows, std::uint64_t& nextPeer) {
    auto lease = pool.acquire();
    if (!lease.lease)
        throw std::runtime_error("no database connection");
    auto& session = lease.lease->session();
    std::vector<std::vector<PeerWrite>> batches(static_cast<std::size_t>(transactions));
    for (auto& batch : batches) {
        for (int i = 0; i < rows; ++i) {
            std::string uid = "fc" + std::to_string(nextPeer++);
            PeerWrite write;
            write.tid = tid;
            write.uid.assign(uid);
            write.peerId.assign("-FC0001-" + uid);
            write.address = *tracker::protocol::PeerAddress::parse("10.77.0.1");
            write.port = 6881;
            write.left = 100;
            write.knownAbsent = true;
            batch.push_back(write);
        }
        batch = tracker::feed::coalescePeerWrites(batch);
    }
    std::uint64_t cpuBefore = serverNanoseconds(pid);
    auto started = std::chrono::steady_clock::now();
    for (const auto& batch : batches)
        tracker::feed::applyPeerWrites(session, batch);
    auto took = std::chrono::steady_clock::now() - started;
    std::uint64_t cpu = serverNanoseconds(pid) - cpuBefore;
    return {static_cast<double>(cpu) / 1000.0 / transactions,
            std::chrono::duration<double, std::micro>(took).count() / transactions};
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: flush_cost SOCKET DATABASE SERVER_PID [ROUNDS]\n");
        return 2;
    }
    tracker::DatabaseConfig database;
    database.socket = argv[1];
    database.name = argv[2];
    database.user = "root";
    int pid = std::stoi(argv[3]);
    int rounds = argc > 4 ? std::max(1, std::stoi(argv[4])) : 5;
    try {
        tracker::db::ConnectionPool pool{database, 2, 1000ms};
        tracker::admin::AdminStore admin{pool};
        tracker::protocol::InfoHash hash{};
        std::mt19937 random{std::random_device{}()};
        for (auto& byte : hash)
            byte = static_cast<std::uint8_t>(random());
        auto registered = admin.registerTorrent(hash, "flush_cost", false);
        if (const auto* failed = std::get_if<tracker::admin::AdminError>(&registered))
            throw std::runtime_error("registering a torrent failed: " + failed->message);
        std::uint32_t tid = std::get<tracker::admin::Registration>(registered).torrent.tid;

        // Each shape in turn, round after round, so that a disturbance touches all of them.
        struct Shape {
            const char* name;
            int transactions;
            int rows;
            std::vector<double> server, wall;
        };
        // 32 and 16 rows are one multi-row statement each: two transactions of 16 are what
        // one of 32 costs plus one more transaction with its one statement, the least that a
        // second host's flush adds.
        std::vector<Shape> shapes = {{"1 row", 2000, 1, {}, {}},
                                     {"32 rows", 600, 32, {}, {}},
                                     {"32 rows as 2 x 16", 1200, 16, {}, {}}};
        std::uint64_t nextPeer = 0;
        for (int round = 0; round < rounds; ++round) {
            for (Shape& shape : shapes) {
                Cost cost = measure(pool, tid, pid, shape.transactions, shape.rows, nextPeer);
                shape.server.push_back(cost.serverMicroseconds);
                shape.wall.push_back(cost.wallMicroseconds);
            }
        }
        admin.remove(tracker::admin::TorrentKey{tid});

        std::printf("median of %d rounds: the server's CPU and the writer's wait per transaction\n",
                    rounds);
        for (const Shape& shape : shapes)
            std::printf("  %-18s %8.1f us CPU  %8.1f us wait  (%d transactions a round)\n",
                        shape.name, median(shape.server), median(shape.wall), shape.transactions);
        double one = median(shapes[1].server);
        double split = 2 * median(shapes[2].server);
        std::printf("one more transaction for the same 32 rows: %.1f us of the server's CPU\n",
                    split - one);
        std::printf("a row, past the first: %.1f us\n", (one - median(shapes[0].server)) / 31);
    } catch (const std::exception& failed) {
        std::fprintf(stderr, "flush_cost: %s\n", failed.what());
        return 1;
    }
    return 0;
}
