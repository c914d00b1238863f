#include "tracker_fcgi/worker_process.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "swarms/written_tick.h"

namespace tracker::app {

WorkerProcess::WorkerProcess(const Config& config, service::AddressAllowlist statsReaders) {
    // The replica follows the database on a connection of its own, one of poolSize: when
    // announces keep every other connection busy, it must not fall behind and send them all
    // to the database too. With a pool of one, it shares that one.
    // The write-behind's flushes too, from a pool of four (two left to the announces, the
    // completions and a load's chunks): their multi-row statements are then prepared on one
    // connection of the server's, not on every one.
    const bool replicaOn = config.peerFlushMs > 0 && config.replicaPullMs > 0;
    const bool feedConnection = replicaOn && config.poolSize >= 2;
    const bool flushConnection = config.peerFlushMs > 0 && config.poolSize >= 4;
    const std::chrono::milliseconds poolWait(config.poolWaitMs);
    pool_ = std::make_unique<db::ConnectionPool>(
        config.database, config.poolSize - (feedConnection ? 1 : 0) - (flushConnection ? 1 : 0),
        poolWait);
    if (flushConnection)
        flushPool_ = std::make_unique<db::ConnectionPool>(config.database, 1, poolWait);
    if (replicaOn) {
        feed::ReplicaFeed::Options feedOptions;
        feedOptions.pullInterval = std::chrono::milliseconds(config.replicaPullMs);
        feedOptions.staleAfter = std::max(feedOptions.staleAfter, 4 * feedOptions.pullInterval);
        feedOptions.resyncInterval = std::chrono::seconds(config.replicaReloadSeconds);
        feedOptions.outageGrace = std::chrono::seconds(config.outageServeSeconds);
        feedOptions.loadPool = pool_.get();  // a load reads on one of the announces' connections
        feedOptions.writerTick = std::chrono::milliseconds(config.peerFlushMs);
        if (feedConnection)
            feedPool_ = std::make_unique<db::ConnectionPool>(config.database, 1, poolWait);
        if (config.readReplica.enabled) {
            // Its own two connections, on the replica: a pull and a load's chunks at once.
            // The primary keeps one read a pull (its counter, for the replica's lag).
            replicaPool_ =
                std::make_unique<db::ConnectionPool>(config.readReplica.database, 2, poolWait);
            feedOptions.replicaPool = replicaPool_.get();
            feedOptions.replicaMaxLag = std::chrono::milliseconds(config.readReplica.maxLagMs);
        }
        replica_ =
            std::make_unique<feed::ReplicaFeed>(feedPool_ ? *feedPool_ : *pool_, feedOptions);
    }
    if (config.peerFlushMs > 0) {
        feed::PeerWriter::Hooks hooks;
        if (replica_) {
            hooks.committed = [this](const feed::NumberedCommit& done) {
                replica_->committed(done);
            };
            hooks.ticked = [this] { replica_->ticked(); };
            // A held write is a write: the row's `updated` is now at least its announce's
            // time, and the peer's next quiet re-announces wait from there.
            hooks.touchesWritten = [this](const std::vector<feed::QuietTouches::Touch>& touches) {
                for (const auto& touch : touches)
                    replica_->markOwnWrite(touch.tid, touch.uid.view(),
                                           swarms::WrittenTick::at(touch.heard));
            };
        }
        feed::PeerWriter::Options writerOptions;
        writerOptions.flushPool = flushPool_.get();
        writerOptions.hooks = std::move(hooks);
        writer_ = std::make_unique<feed::PeerWriter>(
            *pool_, std::chrono::milliseconds(config.peerFlushMs), std::move(writerOptions));
    }
    store::SwarmStoreOptions storeOptions;
    storeOptions.swarmCacheTtl = std::chrono::milliseconds(config.swarmCacheMs);
    storeOptions.cachedCandidates = config.numwantMax + 1;
    storeOptions.writer = writer_.get();
    storeOptions.replica = replica_.get();
    if (replica_) {
        storeOptions.meetWait = std::chrono::milliseconds(config.meetWaitMs);
        storeOptions.othersFlush = std::chrono::milliseconds(config.peerFlushMs);
        // A quarter of the threads at most: the others go on answering.
        storeOptions.meetWaiters = std::max<std::uint32_t>(1, config.workers / 4);
        if (writer_)
            storeOptions.quietWrite =
                std::chrono::seconds(std::min(config.quietWriteSeconds, config.minInterval));
    }
    store_ = std::make_unique<store::MysqlSwarmStore>(*pool_, storeOptions);
    service_ =
        std::make_unique<service::TrackerService>(config, *store_, std::move(statsReaders), [this] {
            auto stats = pool_->stats();
            if (feedPool_)
                stats = stats + feedPool_->stats();
            return flushPool_ ? stats + flushPool_->stats() : stats;
        });
    if (writer_)
        service_->metrics().setPeerWriterStats([this] { return writer_->stats(); });
    if (replica_)
        service_->metrics().setReplicaStats([this] { return replica_->stats(); });
}

WorkerProcess::~WorkerProcess() {
    stop();
}

void WorkerProcess::stop() {
    if (replica_)
        replica_->stop();
    if (writer_)
        writer_->stop();  // the announces answered last are written before we exit
}

std::size_t WorkerProcess::unwritten() const {
    return writer_ ? writer_->stats().pending : 0;
}

}  // namespace tracker::app
