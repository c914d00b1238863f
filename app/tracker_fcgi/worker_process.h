// Everything one tracker-fcgi process runs, built from its config in the order it must start
// and stopped in the reverse: the database pools, the replica's feed, the write-behind, the
// store and the request handling.
#pragma once

#include <memory>

#include "config/config.h"
#include "db/connection_pool.h"
#include "feed/peer_writer.h"
#include "feed/replica_feed.h"
#include "service/address_allowlist.h"
#include "service/tracker_service.h"
#include "store/mysql_swarm_store.h"

namespace tracker::app {

class WorkerProcess {
  public:
    WorkerProcess(const Config& config, service::AddressAllowlist statsReaders);
    ~WorkerProcess();
    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

    // The pool the announces use (the replica's feed has one of its own).
    db::ConnectionPool& pool() { return *pool_; }
    service::TrackerService& service() { return *service_; }

    // Stops following the database and writes what the write-behind holds. Before the
    // destructor, so that an unwritten remainder can be reported.
    void stop();
    // Peer writes still queued (the database was unreachable at the last flush).
    std::size_t unwritten() const;

  private:
    std::unique_ptr<db::ConnectionPool> pool_;
    std::unique_ptr<db::ConnectionPool> feedPool_;     // the replica's connection, when it has one
    std::unique_ptr<db::ConnectionPool> flushPool_;    // the write-behind's, when it has one
    std::unique_ptr<db::ConnectionPool> replicaPool_;  // on database.replica, when configured
    std::unique_ptr<feed::ReplicaFeed> replica_;
    std::unique_ptr<feed::PeerWriter> writer_;  // after the replica: its hooks call it
    std::unique_ptr<store::MysqlSwarmStore> store_;
    std::unique_ptr<service::TrackerService> service_;
};

}  // namespace tracker::app
