// The figures of a connection pool, for /stats and /metrics: plain numbers, no database types.
#pragma once

#include <cstdint>

namespace tracker::db {

struct PoolStats {
    std::uint32_t size = 0;      // the bound
    std::uint32_t inUse = 0;     // leased now
    std::uint32_t open = 0;      // connected sessions, leased or idle
    std::uint64_t leases = 0;    // leases granted
    std::uint64_t waits = 0;     // leases that had to wait for a free session
    std::uint64_t timeouts = 0;  // leases refused after poolWaitMs
    std::uint64_t connectFailures = 0;
    std::uint64_t dropped = 0;  // sessions dropped after a lost connection

    // Two pools' figures as one: a process's database connections in all.
    friend PoolStats operator+(PoolStats a, const PoolStats& b) {
        a.size += b.size;
        a.inUse += b.inUse;
        a.open += b.open;
        a.leases += b.leases;
        a.waits += b.waits;
        a.timeouts += b.timeouts;
        a.connectFailures += b.connectFailures;
        a.dropped += b.dropped;
        return a;
    }
};

}  // namespace tracker::db
