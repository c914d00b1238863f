#include "feed/replica_feed.h"

#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "db/peer_rows.h"
#include "db/session_retry.h"
#include "feed/chunk_reader.h"
#include "feed/feed_statements.h"
#include "util/log.h"

namespace tracker::feed {

using db::DbSession;
using db::DbStatus;
using db::PeerColumns;
using swarms::SwarmReplica;

namespace {

using namespace statements;

constexpr PeerColumns kFeedColumns{8, 9, 10, 11, 12, 13, 14, 15};  // kChanges' peer

std::uint64_t readNumber(DbSession& session, const char* statement, const char* what) {
    std::unique_ptr<sql::ResultSet> row(session.statement(statement).executeQuery());
    if (!row->next())
        throw sql::SQLException(std::string(what) + " is missing (run `trackerctl migrate`)");
    return row->getUInt64(1);
}

bool readInfoHash(const sql::ResultSet& row, int column, protocol::InfoHash& into) {
    std::string hash = row.getString(column).asStdString();
    if (hash.size() != into.size())
        return false;
    std::copy(hash.begin(), hash.end(), into.begin());
    return true;
}

struct Pulled {
    DbStatus status = DbStatus::Ok;
    std::string message;
    std::uint64_t committed = 0;  // the counter as the pull began
    std::uint64_t upTo = 0;       // changes up to this number were read
    bool gap = false;             // pruned past where the reader stood: read everything
    std::vector<SwarmReplica::TorrentChange> torrents;
    std::vector<SwarmReplica::PeerChange> peers;
    std::vector<std::uint64_t> peerNumbers;     // each peer change's sequence number
    std::vector<std::uint64_t> torrentNumbers;  // each torrent change's
};

Pulled readCounter(db::ConnectionPool& pool) {
    return db::withSession<Pulled>(pool, [&](DbSession& session) {
        Pulled read;
        read.committed = readNumber(session, kCommittedSequence, "tracker_sequence row 1");
        return read;
    });
}

std::int64_t millis(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The changes numbered in (after, committed], at most `numbers` of them, and the counters, in
// one consistent read (kChanges). The counter alone first, unless `somethingNew` (this
// process's own batch committed since): with nothing new, a pull touches no feed table, so a
// table locked by hand (a dump, an ALTER) holds up no pull while nothing changes, and the
// replica keeps answering.
void readChanges(DbSession& session, std::uint64_t after, std::uint64_t numbers, bool somethingNew,
                 Pulled& into) {
    if (!somethingNew) {
        into.committed = readNumber(session, kCommittedSequence, "tracker_sequence row 1");
        into.upTo = into.committed;
        if (into.committed <= after)
            return;
    }
    sql::PreparedStatement& changes = session.statement(kChanges);
    const std::uint64_t cap = after + numbers;
    for (unsigned part = 0; part < 3; ++part) {
        changes.setUInt64(2 * part + 1, after);
        changes.setUInt64(2 * part + 2, cap);
    }
    const auto readAt = db::rowAgesReadAfter();
    std::unique_ptr<sql::ResultSet> rows(changes.executeQuery());
    bool counted = false;
    std::uint64_t pruned = 0;
    while (rows->next()) {
        switch (rows->getInt(1)) {
            case 0:
                counted = true;
                into.committed = rows->getUInt64(2);
                pruned = rows->getUInt64(16);
                break;
            case 1: {
                SwarmReplica::TorrentChange change;
                change.tid = rows->getUInt(4);
                change.present = rows->getInt(3) != 0;
                if (change.present) {
                    if (!readInfoHash(*rows, 5, change.infoHash))
                        continue;
                    change.banned = rows->getInt(6) != 0;
                    change.downloaded = rows->getInt64(7);
                }
                into.torrents.push_back(change);
                into.torrentNumbers.push_back(rows->getUInt64(2));
                break;
            }
            default: {
                SwarmReplica::PeerChange change;
                change.tid = rows->getUInt(4);
                if (rows->getInt(3) != 0) {
                    // Written by another process a moment ago: its next re-announce here can wait
                    // too.
                    auto peer = db::readPeer(*rows, kFeedColumns, readAt);
                    if (!peer)
                        continue;
                    change.peer = *peer;
                } else {
                    change.present = false;
                    if (!change.peer.uid.assign(rows->getString(kFeedColumns.uid).asStdString()))
                        continue;
                }
                into.peers.push_back(change);
                into.peerNumbers.push_back(rows->getUInt64(2));
            }
        }
    }
    if (!counted)
        throw sql::SQLException(
            "tracker_sequence rows 1 and 2 are missing (run `trackerctl migrate`)");
    into.upTo = std::min(into.committed, cap);
    into.gap = pruned > after;
}

}  // namespace

ReplicaFeed::ReplicaFeed(db::ConnectionPool& pool, Options options)
    : pool_(pool),
      options_(options),
      // Samples kept a little longer than the bound: lag beyond it reads as beyond it.
      lag_(2 * options.replicaMaxLag + 2 * options.pullInterval + std::chrono::seconds(1)),
      choice_({options.replicaMaxLag, options.replicaRetry}) {
    if (options_.replicaPool != nullptr && options_.replicaLoadPool == nullptr)
        options_.replicaLoadPool = options_.replicaPool;
    watching_ = options_.startThread && options_.replicaPool != nullptr;
    if (watching_)
        watcher_ = std::thread([this] { watchReplica(); });
    if (options_.startThread)
        thread_ = std::thread([this] { run(); });
}

ReplicaFeed::~ReplicaFeed() {
    stop();
}

bool ReplicaFeed::servesAt(Clock::time_point now, Clock::time_point caughtUp,
                           Clock::time_point failedAt, const Options& options) {
    if (now - caughtUp <= options.staleAfter)
        return true;
    // Behind because the pulls fail, not because they are slow: the database is gone, and
    // the replica is the best answer there is for a while. (Behind and not failing, the
    // database answers: a feed that cannot keep up must not serve old swarms.)
    return failedAt > caughtUp && now - caughtUp <= options.outageGrace;
}

const SwarmReplica* ReplicaFeed::freshReplica(Clock::time_point now) const {
    if (!loaded_.load(std::memory_order_acquire))
        return nullptr;
    Clock::time_point caughtUp{Clock::duration(caughtUp_.load(std::memory_order_acquire))};
    Clock::time_point failedAt{Clock::duration(failedAt_.load(std::memory_order_acquire))};
    return servesAt(now, caughtUp, failedAt, options_) ? &replica_ : nullptr;
}

bool ReplicaFeed::outage(Clock::time_point now) const {
    Clock::time_point caughtUp{Clock::duration(caughtUp_.load(std::memory_order_acquire))};
    Clock::time_point failedAt{Clock::duration(failedAt_.load(std::memory_order_acquire))};
    // Serving, though not caught up within staleAfter: only the outage rule lets it.
    return loaded_.load(std::memory_order_acquire) && now - caughtUp > options_.staleAfter &&
           servesAt(now, caughtUp, failedAt, options_);
}

void ReplicaFeed::noteFailure(const std::string& message) {
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        ++stats_.failures;
    }
    {
        std::lock_guard<std::mutex> lock(pulledMutex_);
        failedAt_.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    }
    pulled_.notify_all();
    util::logErrorThrottled("replica-feed", "following the database failed: " + message);
}

void ReplicaFeed::startLoad(bool resync) {
    resyncing_ = resync;
    resyncWanted_ = false;
    loadStarted_ = Clock::now();
    if (resync)
        replica_.beginResync();
    else
        replica_.clear();
    // Each chunk is read as of the moment its statement runs: rows changed since the load
    // began come newer than the pulls' starting point, and the pulls that follow replay every
    // change after it in order, which lands on the same state.
    // A resync reads where it stands at least: a replica behind what the feed applied from
    // the primary would put older rows over newer ones that no later pull brings again.
    loadFromReplica_ = options_.replicaPool != nullptr && onReplica() &&
                       (!resync || replicaCommitted_ >= sequence_);
    reader_ = std::make_unique<ChunkReader>(loadPool(loadFromReplica_), options_.loadChunk);
}

db::ConnectionPool& ReplicaFeed::loadPool(bool fromReplica) const {
    if (fromReplica)
        return *options_.replicaLoadPool;
    return options_.loadPool ? *options_.loadPool : pool_;
}

bool ReplicaFeed::onReplica() const {
    if (options_.replicaPool == nullptr)
        return false;
    // A load's pulls read where its chunks do: a chunk read on a replica behind the primary,
    // applied after a pull from the primary, would put older rows over newer ones.
    if (loading())
        return loadFromReplica_;
    return choice_.server() == ReadChoice::Server::Replica;
}

void ReplicaFeed::noteSwitch(const ReadChoice::Switch& change) {
    if (!change.happened)
        return;
    bool toReplica = change.to == ReadChoice::Server::Replica;
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        if (!toReplica)
            ++stats_.replicaFallbacks;
    }
    std::string lag = change.why == ReadChoice::Reason::Down
                          ? std::string()
                          : " (" + std::to_string(millis(lastLag_)) + " ms behind the primary)";
    if (toReplica)
        util::logInfo("replica feed: reading the database replica" + lag);
    else
        util::logInfo("replica feed: reading the primary: the database replica is " +
                      std::string(ReadChoice::describe(change.why)) + lag);
}

void ReplicaFeed::replicaFailed(Clock::time_point now, const std::string& message) {
    lastLag_ = Clock::duration::zero();
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        stats_.replicaLagMs = -1;
    }
    util::logErrorThrottled("replica-feed-replica",
                            "reading the database replica failed: " + message);
    replicaDown_.store(true, std::memory_order_release);
    noteSwitch(choice_.replicaFailed(now));
    if (loading() && loadFromReplica_) {
        // Read again from the start on the primary (a resync keeps its marks): its rows are
        // as new as the replica's or newer, and the pulls go on from where they stand.
        loadFromReplica_ = false;
        reader_ = std::make_unique<ChunkReader>(loadPool(false), options_.loadChunk);
    }
}

bool ReplicaFeed::probe(Clock::time_point now) {
    bool sampled = false;
    {
        // A batch this process wrote since the last probe tells the primary's counter as well
        // as a read of it would, a moment earlier.
        std::lock_guard<std::mutex> lock(flushedMutex_);
        if (flushSampled_) {
            flushSampled_ = false;
            // Never back: an older sample would start the lag's history again.
            if (flushSampleCommitted_ >= lastSampled_) {
                lag_.samplePrimary(flushSampleAt_, flushSampleCommitted_);
                lastSampled_ = flushSampleCommitted_;
                sampled = true;
            }
        }
    }
    if (!sampled) {
        Pulled primary = readCounter(pool_);
        if (primary.status != DbStatus::Ok) {
            noteFailure(primary.message);
            return false;
        }
        // Sampled at `now`, before the read: everything committed then is within the value
        // read.
        lag_.samplePrimary(now, primary.committed);
        lastSampled_ = primary.committed;
        raiseKnownCommitted(primary.committed);
    }
    // Down: tried by the watcher, when there is one; by the pulls at replicaRetry, when not.
    bool tryNow = replicaDown_.load(std::memory_order_acquire)
                      ? (watching_ ? replicaAnswered_.exchange(false) : choice_.tryReplica(now))
                      : true;
    if (!tryNow)
        return true;
    Pulled replica = readCounter(*options_.replicaPool);
    if (replica.status != DbStatus::Ok) {
        replicaFailed(now, replica.message);
        return true;
    }
    replicaDown_.store(false, std::memory_order_release);
    lastLag_ = lag_.lagAt(Clock::now(), replica.committed);
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        stats_.replicaLagMs = millis(lastLag_);
    }
    replicaCommitted_ = replica.committed;
    lagKnown_ = lag_.reached(replica.committed);
    // A load on the primary finishes there; the choice waits for it.
    if (loading() && !loadFromReplica_)
        return true;
    noteSwitch(choice_.observe(lastLag_));
    return true;
}

bool ReplicaFeed::takeChunk(std::chrono::milliseconds wait) {
    std::optional<ChunkReader::Chunk> chunk = reader_->next(wait);
    if (!chunk) {
        if (std::optional<std::string> failure = reader_->failure()) {
            if (loadFromReplica_) {  // the load starts again on the primary
                replicaFailed(Clock::now(), *failure);
                return true;
            }
            noteFailure(*failure);
            reader_->restart();  // from the chunk that failed, after the next wait
            return false;
        }
        return true;
    }
    if (!chunk->torrents.empty())
        replica_.applyTorrents(chunk->torrents);
    if (!chunk->peers.empty())
        replica_.apply(chunk->peers);
    // Read ahead, the chunk may be older than pulls applied before it: a row it holds may
    // have changed or gone since, in a change already pulled. Those changes are read again
    // (as the rows are now: applying them twice lands the same).
    if (chunk->committedBefore < sequence_)
        sequence_ = chunk->committedBefore;
    if (chunk->last)
        finishLoad();
    return true;
}

void ReplicaFeed::finishLoad() {
    reader_.reset();
    loaded_.store(true, std::memory_order_release);
    SwarmReplica::Swept swept;
    if (resyncing_)
        swept = replica_.endResync();
    // The load's chunks and what a resync dropped were many small allocations: hand the room
    // back to the system rather than keep it for a peak that has passed.
    malloc_trim(0);
    auto now = Clock::now();
    if (options_.resyncInterval.count() > 0) {
        auto interval = std::chrono::duration_cast<Clock::duration>(options_.resyncInterval);
        // Jittered, so that processes started together spread their reads out.
        nextResync_ = now + interval - interval / 10 +
                      Clock::duration(std::uniform_int_distribution<Clock::rep>(
                          0, (interval / 5).count())(jitter_));
    }
    std::lock_guard<std::mutex> lock(statsMutex_);
    ++stats_.reloads;
    if (resyncing_) {
        ++stats_.resyncs;
        stats_.resyncDropped += swept.peers;
    }
    stats_.lastReloadTook =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - loadStarted_);
}

bool ReplicaFeed::pull(Clock::time_point now) {
    lastPull_ = now;
    // Taken before anything is read: a batch committed from here on is for the next pull.
    const bool ownNew = ownCommitted_.exchange(false, std::memory_order_acq_rel);
    // The start-up's first pull follows the probe that chose where the load reads, in the
    // same step: that one stands for both.
    const bool probed = probedThisStep_;
    probedThisStep_ = false;
    if (options_.replicaPool != nullptr && !probed && !probe(now))
        return false;
    auto readOn = [&](db::ConnectionPool& pool, bool somethingNew) {
        return db::withSession<Pulled>(pool, [&](DbSession& session) {
            Pulled read;
            readChanges(session, sequence_, options_.pullNumbers, somethingNew, read);
            return read;
        });
    };
    bool fromReplica = onReplica();
    // Only the primary surely has this process's batch: a replica may not have it yet.
    Pulled pulled = fromReplica ? readOn(*options_.replicaPool, false) : readOn(pool_, ownNew);
    if (fromReplica && pulled.status != DbStatus::Ok) {
        replicaFailed(now, pulled.message);
        fromReplica = false;
        pulled = readOn(pool_, ownNew);
    }
    if (pulled.status != DbStatus::Ok) {
        noteFailure(pulled.message);
        return false;
    }
    if (!fromReplica)
        raiseKnownCommitted(pulled.committed);
    if (fromReplica && pulled.committed < sequence_) {
        // Back from the primary, the replica has not yet reached what the feed applied there:
        // nothing on it is new (the lag bound keeps this short; a replica of another
        // database never gets within it).
        pulled.committed = pulled.upTo = sequence_;
    }
    if (pulled.gap || pulled.committed < sequence_) {
        // Departures were pruned past this point, or the numbering went back (another
        // database): what changed since cannot be told apart. Read everything again.
        util::logInfo("replica feed: " +
                      std::string(pulled.gap ? "changes pruned before this process read them"
                                             : "the database's sequence went back") +
                      "; reading everything again");
        sequence_ = pulled.committed;
        applied_.store(sequence_, std::memory_order_release);
        resyncWanted_ = true;
        return true;
    }
    std::size_t kept = 0;
    try {
        std::lock_guard<std::mutex> own(ownMutex_);
        kept = own_.filter(pulled.peers, pulled.peerNumbers) +
               own_.filter(pulled.torrents, pulled.torrentNumbers);
        replica_.applyTorrents(pulled.torrents);
        replica_.apply(pulled.peers);
        sequence_ = pulled.upTo;
        // Never back (a chunk may set sequence_ back): what was applied stays applied.
        applied_.store(std::max(applied_.load(std::memory_order_relaxed), sequence_),
                       std::memory_order_release);
        own_.passed(sequence_);
    } catch (...) {  // out of memory part way: the replica is not to be trusted until reloaded
        loaded_.store(false, std::memory_order_release);
        reader_.reset();
        throw;
    }
    behind_ = pulled.upTo < pulled.committed;
    if (!behind_) {  // stamped with when the pull began: it holds what had committed by then
        // What it holds is as of `now` on the primary, less the replica's lag.
        auto asOf = fromReplica ? now - lastLag_ : now;
        {
            std::lock_guard<std::mutex> lock(pulledMutex_);
            caughtUp_.store(now.time_since_epoch().count(), std::memory_order_release);
            asOf_.store(asOf.time_since_epoch().count(), std::memory_order_release);
        }
        pulled_.notify_all();
    }
    std::lock_guard<std::mutex> lock(statsMutex_);
    ++stats_.pulls;
    if (fromReplica)
        ++stats_.replicaPulls;
    stats_.ownKept += kept;
    stats_.changes += pulled.torrents.size() + pulled.peers.size();
    stats_.sequence = sequence_;
    return true;
}

bool ReplicaFeed::step() {
    std::lock_guard<std::mutex> stepping(stepping_);
    bool ok = stepLocked();
    readingReplica_.store(onReplica(), std::memory_order_release);
    return ok;
}

bool ReplicaFeed::stepLocked() {
    auto now = Clock::now();
    probedThisStep_ = false;
    if (!loading()) {
        bool initial = !loaded_.load(std::memory_order_acquire);
        if (initial || resyncWanted_ || now >= nextResync_) {
            if (initial) {
                // Where the pulls start: read before the first chunk, where the chunks are.
                if (options_.replicaPool != nullptr && !probe(now))
                    return false;
                probedThisStep_ = options_.replicaPool != nullptr;
                // A replica whose lag is not known yet (it has not reached the primary's
                // first sample) is given until the bound tells, rather than loaded from at
                // an age nobody knows.
                if (onReplica() && !lagKnown_)
                    return true;
                Pulled counter;
                counter.status = DbStatus::Unavailable;
                if (onReplica()) {
                    counter = readCounter(*options_.replicaPool);
                    if (counter.status != DbStatus::Ok)
                        replicaFailed(now, counter.message);
                }
                if (counter.status != DbStatus::Ok)
                    counter = readCounter(pool_);
                if (counter.status != DbStatus::Ok) {
                    noteFailure(counter.message);
                    return false;
                }
                sequence_ = counter.committed;
                applied_.store(sequence_, std::memory_order_release);
            }
            startLoad(!initial);
        }
    }
    if (loading()) {
        // A chunk when one comes, waiting no longer than the next pull is due.
        auto untilPull = lastPull_ + options_.pullInterval - now;
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(untilPull, Clock::duration::zero()));
        if (!takeChunk(wait))
            return false;
        // Pulls go on during a load: a resync keeps the replica fresh, a start-up load
        // applies what changed meanwhile.
        now = Clock::now();
        if (loading() && now - lastPull_ < options_.pullInterval)
            return true;
    }
    return pull(now);
}

bool ReplicaFeed::catchUp() {
    for (;;) {
        if (!step())
            return false;
        std::lock_guard<std::mutex> stepping(stepping_);
        if (!loading() && !behind_ && !resyncWanted_ && loaded_.load(std::memory_order_acquire))
            return true;
    }
}

void ReplicaFeed::requestResync() {
    std::lock_guard<std::mutex> stepping(stepping_);
    resyncWanted_ = true;
}

void ReplicaFeed::run() {
    std::unique_lock<std::mutex> lock(wakeMutex_);
    while (!stopping_) {
        lock.unlock();
        bool more = false;
        const auto stepStarted = Clock::now();
        try {
            bool ok = step();
            std::lock_guard<std::mutex> stepping(stepping_);
            // A load, a backlog or a gap goes on at once; else wait for the next pull.
            more = ok && (loading() || behind_ || resyncWanted_);
        } catch (const std::exception& error) {  // not a database error: out of memory
            noteFailure(error.what());
        }
        lock.lock();
        // A step that did not pull (a failure, a replica whose lag is not known yet) waits a
        // whole interval from its end, not from the last pull: else it would start again at
        // once, and again.
        if (!more)
            waitForPull(lock, lastPull_ >= stepStarted ? lastPull_ : Clock::now());
        woken_ = false;
        if (pullWanted_ <= Clock::now())
            pullWanted_ = Clock::time_point::max();
    }
}

void ReplicaFeed::waitForPull(std::unique_lock<std::mutex>& lock, Clock::time_point from) {
    const Clock::duration interval = options_.pullInterval;
    const Clock::duration tick = options_.writerTick;
    // Pulled no sooner than this after the last pull when a flush ends: nearly due, or at
    // least half an interval on (a flush that ends just after a pull waits for the next one).
    const Clock::duration afterFlush = std::max(interval - tick / 2, interval / 2);
    ticked_ = false;
    for (;;) {
        if (stopping_ || woken_)
            return;
        auto now = Clock::now();
        if (ticked_) {
            ticked_ = false;
            if (now - from >= afterFlush)
                return;
        }
        auto due = from + interval;
        if (tick.count() > 0 && lastTick_ != Clock::time_point{}) {
            // When the next flush is expected a little after the pull is due, the pull waits
            // for it (ticked() wakes this), and for no longer than that little.
            auto period = lastTick_ - previousTick_;
            if (previousTick_ == Clock::time_point{} || period < tick || period > 3 * tick)
                period = tick;
            auto slack = std::min(tick, interval) / 2;
            auto nextTick = lastTick_ + period;
            if (nextTick >= due && nextTick <= due + slack)
                due += slack;
        }
        auto until = std::min(due, pullWanted_);
        if (now >= until)
            return;
        wake_.wait_until(lock, until);
    }
}

void ReplicaFeed::committed(const NumberedCommit& done) {
    if (done.number == 0)
        return;
    // Every number up to this batch's had committed once it did.
    raiseKnownCommitted(done.number);
    if (done.sampled) {
        std::lock_guard<std::mutex> lock(flushedMutex_);
        if (!flushSampled_) {
            flushSampleAt_ = done.committing;
            flushSampleCommitted_ = done.number - 1;
        } else {
            flushSampleAt_ = std::max(flushSampleAt_, done.committing);
            flushSampleCommitted_ = std::max(flushSampleCommitted_, done.number - 1);
        }
        flushSampled_ = true;
    }
    ownCommitted_.store(true, std::memory_order_release);
}

void ReplicaFeed::raiseKnownCommitted(std::uint64_t committed) {
    // Raised from the feed's thread and the writers': never lowered by a slower one.
    std::uint64_t known = knownCommitted_.load(std::memory_order_relaxed);
    while (known < committed &&
           !knownCommitted_.compare_exchange_weak(known, committed, std::memory_order_acq_rel)) {
    }
}

void ReplicaFeed::ticked() {
    {
        std::lock_guard<std::mutex> lock(wakeMutex_);
        previousTick_ = lastTick_;
        lastTick_ = Clock::now();
        ticked_ = true;
    }
    wake_.notify_all();
}

bool ReplicaFeed::awaitPullFrom(Clock::time_point from, Clock::time_point deadline) {
    {
        std::lock_guard<std::mutex> lock(wakeMutex_);
        if (stopping_)
            return false;
        pullWanted_ = std::min(pullWanted_, from);
    }
    wake_.notify_all();
    auto asked = Clock::now().time_since_epoch().count();
    auto caughtUp = [&] {
        return asOf_.load(std::memory_order_acquire) >= from.time_since_epoch().count();
    };
    std::unique_lock<std::mutex> lock(pulledMutex_);
    pulled_.wait_until(lock, deadline, [&] {
        return caughtUp() || failedAt_.load(std::memory_order_acquire) >= asked;
    });
    return caughtUp();
}

void ReplicaFeed::applyOwn(const swarms::SwarmReplica::PeerChange& change, bool completed,
                           std::uint64_t floor) {
    if (floor > applied_.load(std::memory_order_acquire)) {
        // The feed may still bring something older of this peer: noted before the pull
        // that would apply it can filter, so under the pull's lock.
        std::lock_guard<std::mutex> own(ownMutex_);
        own_.note(change, floor);
        replica_.apply({change});
        if (completed) {
            own_.noteCompletion(change.tid, floor);
            replica_.countDownload(change.tid);
        }
        return;
    }
    replica_.apply({change});
    if (completed)
        replica_.countDownload(change.tid);
}

void ReplicaFeed::markOwnWrite(std::uint32_t tid, std::string_view uid, std::uint8_t tick) {
    replica_.markWritten(tid, uid, tick);
}

void ReplicaFeed::wake() {
    {
        std::lock_guard<std::mutex> lock(wakeMutex_);
        woken_ = true;
    }
    wake_.notify_all();
}

void ReplicaFeed::watchReplica() {
    auto every = std::max(options_.replicaRetry, std::chrono::milliseconds(100));
    std::unique_lock<std::mutex> lock(wakeMutex_);
    while (!stopping_) {
        retry_.wait_for(lock, every, [this] { return stopping_; });
        if (stopping_ || !replicaDown_.load(std::memory_order_acquire) ||
            replicaAnswered_.load(std::memory_order_acquire))
            continue;
        lock.unlock();
        bool answered = readCounter(*options_.replicaPool).status == DbStatus::Ok;
        if (answered) {
            replicaAnswered_.store(true, std::memory_order_release);
            wake();  // the next pull looks at it now
        }
        lock.lock();
    }
}

void ReplicaFeed::stop() {
    {
        std::lock_guard<std::mutex> lock(wakeMutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    retry_.notify_all();
    if (thread_.joinable())
        thread_.join();
    if (watcher_.joinable())
        watcher_.join();
}

ReplicaFeed::Stats ReplicaFeed::stats() const {
    Stats stats;
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        stats = stats_;
    }
    Clock::rep last = caughtUp_.load(std::memory_order_acquire);
    if (loaded_.load(std::memory_order_acquire))
        stats.lastPullAgeMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  Clock::now() - Clock::time_point(Clock::duration(last)))
                                  .count();
    stats.outage = outage(Clock::now());
    stats.replicaConfigured = options_.replicaPool != nullptr;
    stats.readingReplica = readingReplica_.load(std::memory_order_acquire);
    auto held = replica_.stats();
    stats.torrents = held.torrents;
    stats.peers = held.peers;
    stats.bytes = held.bytes;
    return stats;
}

}  // namespace tracker::feed
