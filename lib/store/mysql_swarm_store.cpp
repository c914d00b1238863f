#include "store/mysql_swarm_store.h"

#include "db/peer_rows.h"
#include "db/session_retry.h"
#include "store/swarm_statements.h"
#include "swarms/written_tick.h"

#include <algorithm>
#include <optional>
#include <random>

namespace tracker::store {

using db::DbSession;
using db::DbStatus;
using db::PeerColumns;
using db::withSession;
using feed::PeerWrite;
using swarms::SwarmCache;
using swarms::SwarmReplica;
using swarms::SwarmView;

namespace {

using namespace statements;

using protocol::AnnounceEvent;
using protocol::AnnounceRequest;

sql::SQLString bytes(std::string_view data) {
    return sql::SQLString(data.data(), data.size());
}

std::uint32_t randomRnd() {
    thread_local std::mt19937 rng{std::random_device{}()};
    // 0 is what a row inserted by the PHP front end gets; a trigger replaces it (migration 003).
    return std::uniform_int_distribution<std::uint32_t>(1, 0xffffffffu)(rng);
}

std::int64_t nonNegative(std::int64_t value) {
    return std::max<std::int64_t>(value, 0);
}

constexpr PeerColumns kWindowColumns{1, 2, 3, 4, 5, 6};  // TRACKER_WINDOW's rows
constexpr PeerColumns kViewColumns{2, 3, 4, 7, 8, 9};    // TRACKER_VIEW's peer rows

void appendPeer(const sql::ResultSet& row, const PeerColumns& at, std::vector<StoredPeer>& peers) {
    if (auto peer = db::readPeer(row, at))
        peers.push_back(*peer);
}

PeerList shared(std::vector<StoredPeer> peers) {
    return PeerList(std::make_shared<const std::vector<StoredPeer>>(std::move(peers)));
}

// The counts, and `candidates` peers from a random point of the swarm's rnd order on. A swarm
// no bigger than that is read whole from its start; otherwise the read wraps round to the
// start in a second, rare query when the random point fell near the end.
void readSwarm(DbSession& session, const AnnounceRequest& request, std::uint32_t tid,
               std::uint32_t candidates, std::int64_t swarmBefore, AnnounceOutcome& outcome) {
    bool leechersOnly = request.isSeeder();
    std::uint32_t pivot = swarmBefore + 1 <= candidates ? 0 : randomRnd();
    sql::PreparedStatement& read = session.statement(leechersOnly ? kReadLeechers : kReadSwarm);
    read.setUInt(1, tid);
    read.setUInt(2, tid);
    read.setUInt(3, pivot);
    read.setUInt(4, candidates);
    std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
    std::vector<StoredPeer> peers;
    peers.reserve(candidates);
    constexpr PeerColumns kAfterPart{2, 3, 4, 5, 6, 7};
    while (rows->next()) {
        if (rows->getInt(1) == 1) {
            outcome.counts.complete = nonNegative(rows->getInt64(2));
            outcome.counts.incomplete = nonNegative(rows->getInt64(3));
            outcome.counts.downloaded = nonNegative(rows->getInt64(4));
        } else {
            appendPeer(*rows, kAfterPart, peers);
        }
    }
    rows.reset();
    if (pivot == 0 || peers.size() >= candidates) {
        outcome.peers = shared(std::move(peers));
        return;
    }

    sql::PreparedStatement& wrap =
        session.statement(leechersOnly ? kReadLeechersWrap : kReadSwarmWrap);
    wrap.setUInt(1, tid);
    wrap.setUInt(2, pivot);
    wrap.setUInt(3, candidates - static_cast<std::uint32_t>(peers.size()));
    std::unique_ptr<sql::ResultSet> wrapped(wrap.executeQuery());
    while (wrapped->next())
        appendPeer(*wrapped, kWindowColumns, peers);
    outcome.peers = shared(std::move(peers));
}

struct ViewRead {
    StoreStatus status = StoreStatus::Ok;
    std::string message;
    std::shared_ptr<const SwarmView> view;
};

// One round trip: the registry row, the counts and up to `limit` candidates from a random point
// of the swarm's rnd order, wrapping round to its start (see kReadView).
std::shared_ptr<const SwarmView> readView(DbSession& session, const protocol::InfoHash& infoHash,
                                          bool leechersOnly, std::uint32_t limit) {
    sql::PreparedStatement& read = session.statement(leechersOnly ? kReadLeechersView : kReadView);
    sql::SQLString hash = bytes(protocol::view(infoHash));
    std::uint32_t pivot = randomRnd();
    read.setString(1, hash);
    read.setString(2, hash);
    read.setUInt(3, pivot);
    read.setUInt(4, limit);
    read.setString(5, hash);
    read.setUInt(6, pivot);
    read.setUInt(7, limit);
    std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
    auto view = std::make_shared<SwarmView>();
    std::vector<StoredPeer> fromPivot, fromStart;
    while (rows->next()) {
        int part = rows->getInt(1);
        if (part == 2) {
            view->tid = rows->getUInt(2);
            view->registry = rows->getInt(3) != 0 ? SwarmView::Registry::Banned
                                                  : SwarmView::Registry::Registered;
            view->counts.downloaded = nonNegative(rows->getInt64(4));
            view->counts.complete = nonNegative(rows->getInt64(5));
            view->counts.incomplete = nonNegative(rows->getInt64(6));
        } else {
            appendPeer(*rows, kViewColumns, part == 1 ? fromPivot : fromStart);
        }
    }
    for (StoredPeer& peer : fromStart) {
        if (fromPivot.size() >= limit)
            break;
        fromPivot.push_back(peer);
    }
    fromPivot.shrink_to_fit();  // a cached read holds what it read, not room for `limit`
    view->peers = shared(std::move(fromPivot));
    return view;
}

PeerWrite writeFor(const AnnounceRequest& request, std::uint32_t tid, std::uint32_t pid) {
    PeerWrite write;
    write.kind =
        request.event == AnnounceEvent::Stopped ? PeerWrite::Kind::Delete : PeerWrite::Kind::Upsert;
    write.completed = request.event == AnnounceEvent::Completed;
    write.tid = tid;
    write.uid.assign(request.uid);
    write.peerId.assign(protocol::view(request.peerId));
    write.address = request.address;
    write.port = request.port;
    write.requiresCrypto = request.requireCrypto;
    write.left = write.completed ? 0 : request.left;
    write.pid = pid;
    return write;
}

// The announce as this process's replica should hold it at once (see ReplicaFeed::applyOwn),
// and the counts it is answered with: the swarm as it stands once this announce is in. None
// for a re-announce that changes nothing the replica holds.
struct OwnChange {
    SwarmReplica::PeerChange peer;
    bool completed = false;  // a download counted
};
std::optional<OwnChange> takeInOwnAnnounce(const AnnounceRequest& request,
                                           SwarmReplica::Answer& answer) {
    const bool stays = request.event != AnnounceEvent::Stopped;
    StoredPeer mine;
    mine.uid.assign(request.uid);
    mine.peerId.assign(protocol::view(request.peerId));
    mine.address = request.address;
    mine.port = request.port;
    mine.seeder = request.isSeeder() || request.event == AnnounceEvent::Completed;
    mine.requiresCrypto = request.requireCrypto;
    mine.pid = answer.self ? answer.self->pid : 0;
    protocol::SwarmCounts& counts = answer.counts;
    if (answer.self) {
        std::int64_t& group = answer.self->seeder ? counts.complete : counts.incomplete;
        group = std::max<std::int64_t>(group - 1, 0);
    }
    if (stays)
        ++(mine.seeder ? counts.complete : counts.incomplete);
    // Counted as the database counts it: unless the peer was a seeder already.
    bool counted =
        request.event == AnnounceEvent::Completed && !(answer.self && answer.self->seeder);
    if (counted)
        ++counts.downloaded;
    const std::optional<StoredPeer>& before = answer.self;
    bool unchanged = before && stays && before->seeder == mine.seeder &&
                     before->peerId == mine.peerId.view() && before->address == mine.address &&
                     before->port == mine.port && before->requiresCrypto == mine.requiresCrypto;
    if (unchanged || (!stays && !before))
        return std::nullopt;
    return OwnChange{{stays, answer.tid, mine}, counted};
}

}  // namespace

MysqlSwarmStore::MysqlSwarmStore(db::ConnectionPool& pool, SwarmStoreOptions options)
    : pool_(pool), options_(options) {
    if (options_.swarmCacheTtl.count() > 0)
        cache_ = std::make_unique<SwarmCache>(options_.swarmCacheTtl);
}

AnnounceOutcome MysqlSwarmStore::recordAndAnswer(const AnnounceRequest& request, std::uint32_t tid,
                                                 const protocol::SwarmCounts& counts,
                                                 PeerList peers, std::uint32_t candidates,
                                                 std::uint32_t pid, bool knownAbsent,
                                                 std::chrono::steady_clock::duration holdFor) {
    AnnounceOutcome outcome;
    PeerWrite write = writeFor(request, tid, pid);
    write.knownAbsent = knownAbsent;
    if (options_.writer && !write.completed && holdFor > holdFor.zero()) {
        options_.writer->hold(write, holdFor);
    } else if (options_.writer && !write.completed) {
        options_.writer->enqueue(write);
    } else if (options_.writer) {
        db::WorkOutcome written = options_.writer->writeNow(write);
        if (written.status != db::DbStatus::Ok) {
            outcome.status =
                written.status == db::DbStatus::Busy ? StoreStatus::Busy : StoreStatus::Unavailable;
            outcome.message = std::move(written.message);
            return outcome;
        }
    } else {
        AnnounceOutcome written = withSession<AnnounceOutcome>(pool_, [&](DbSession& session) {
            feed::applyPeerWrites(session, {write});
            return AnnounceOutcome{};
        });
        if (written.status != StoreStatus::Ok) {
            outcome.status = written.status;
            outcome.message = std::move(written.message);
            return outcome;
        }
    }
    outcome.counts = counts;
    if (request.event != AnnounceEvent::Stopped && candidates > 0)
        outcome.peers = std::move(peers);
    return outcome;
}

std::chrono::steady_clock::duration MysqlSwarmStore::quietWait(const AnnounceRequest& request,
                                                               bool changesReplica,
                                                               const SwarmReplica::Answer& answer,
                                                               std::uint8_t nowTick) const {
    if (options_.quietWrite.count() == 0 || !options_.writer || changesReplica ||
        request.event != AnnounceEvent::Regular || !answer.self || answer.self->pid == 0)
        return {};
    std::optional<std::chrono::seconds> age =
        swarms::WrittenTick::ageAtMost(answer.self->writtenTick, nowTick);
    if (!age || *age >= options_.quietWrite)
        return {};
    return options_.quietWrite - *age;
}

bool MysqlSwarmStore::worthAwaitingOthers(const AnnounceRequest& request,
                                          const SwarmReplica::Answer& answer) const {
    if (options_.meetWait.count() == 0 || request.event != AnnounceEvent::Started)
        return false;
    // Nobody else in the swarm (the counts include this announce by now): a new upload, whose
    // seeder and first leechers may be announcing through other processes this very moment.
    // (A leecher that finds only other leechers does not wait: dead swarms are common, and it
    // has peers to try; nor a seeder among seeders.)
    return answer.counts.complete + answer.counts.incomplete <= 1;
}

bool MysqlSwarmStore::awaitOthers(SwarmCache::Clock::time_point arrived) {
    if (meetWaiting_.fetch_add(1, std::memory_order_relaxed) >= options_.meetWaiters) {
        meetWaiting_.fetch_sub(1, std::memory_order_relaxed);
        return false;  // enough threads wait already: this one answers with what there is
    }
    meetWaits_.fetch_add(1, std::memory_order_relaxed);
    // What another process answered before this announce arrived is in the database within
    // its flush interval (and the flush's own time): a pull begun after that holds it.
    constexpr std::chrono::milliseconds kFlushTime{50};
    bool pulled = options_.replica->awaitPullFrom(arrived + options_.othersFlush + kFlushTime,
                                                  arrived + options_.meetWait);
    meetWaiting_.fetch_sub(1, std::memory_order_relaxed);
    return pulled;
}

// Read (from the replica, the cache or the database), then write (maybe queued). From the
// replica, the answer counts this announce and every later one of this process sees it; from
// the cache or the database, it is the swarm as it was a moment ago, without this announce.
AnnounceOutcome MysqlSwarmStore::announceReadFirst(const AnnounceRequest& request,
                                                   std::uint32_t candidates) {
    bool leechersOnly = request.isSeeder();
    auto now = SwarmCache::Clock::now();
    if (options_.replica) {
        if (const SwarmReplica* replica = options_.replica->freshReplica(now)) {
            answeredFrom_.replica.fetch_add(1, std::memory_order_relaxed);
            SwarmReplica::Answer answer =
                replica->find(request.infoHash, leechersOnly, candidates, randomRnd(), request.uid);
            // The replica follows the registry too: a hash it does not hold is not
            // registered (or was registered since its last pull, a moment ago).
            if (answer.found != SwarmReplica::Found::Registered) {
                AnnounceOutcome outcome;
                outcome.status = answer.found == SwarmReplica::Found::Banned
                                     ? StoreStatus::Banned
                                     : StoreStatus::NotRegistered;
                return outcome;
            }
            std::uint32_t pid = answer.self ? answer.self->pid : 0;
            const std::uint8_t nowTick = swarms::WrittenTick::at(now);
            // Read before the write: whatever number the write gets is above it.
            std::uint64_t floor = options_.replica->ownFloor();
            auto own = takeInOwnAnnounce(request, answer);
            auto holdFor = quietWait(request, own.has_value(), answer, nowTick);
            bool wait = worthAwaitingOthers(request, answer);
            AnnounceOutcome outcome =
                recordAndAnswer(request, answer.tid, answer.counts, std::move(answer.peers),
                                candidates, pid, !answer.self, holdFor);
            if (outcome.status != StoreStatus::Ok)
                return outcome;
            if (own) {
                own->peer.peer.writtenTick = nowTick;
                options_.replica->applyOwn(own->peer, own->completed, floor);
            } else if (answer.self && holdFor == holdFor.zero()) {
                // Unchanged, and written: later re-announces may wait for a while.
                options_.replica->markOwnWrite(answer.tid, request.uid, nowTick);
            }
            // Written (or queued) first: the other processes' announces of this moment wait
            // for it as this one waits for theirs.
            if (wait && awaitOthers(now)) {
                answer = replica->find(request.infoHash, leechersOnly, candidates, randomRnd(),
                                       request.uid);
                if (answer.found == SwarmReplica::Found::Registered) {
                    outcome.counts = answer.counts;  // this announce is in: it was applied
                    outcome.peers = std::move(answer.peers);
                }
            }
            return outcome;
        }
    }

    std::shared_ptr<const SwarmView> view;
    if (cache_)
        view = cache_->find(request.infoHash, leechersOnly, now);
    (view ? answeredFrom_.cache : answeredFrom_.database).fetch_add(1, std::memory_order_relaxed);
    if (!view) {
        std::uint32_t limit = cache_ ? std::max(options_.cachedCandidates, candidates) : candidates;
        ViewRead read = withSession<ViewRead>(pool_, [&](DbSession& session) {
            ViewRead result;
            result.view = readView(session, request.infoHash, leechersOnly, limit);
            return result;
        });
        if (read.status != StoreStatus::Ok) {
            AnnounceOutcome outcome;
            outcome.status = read.status;
            outcome.message = std::move(read.message);
            return outcome;
        }
        view = std::move(read.view);
        if (cache_)  // stamped when read: a slow read is not cached already stale
            cache_->put(request.infoHash, leechersOnly, view, SwarmCache::Clock::now());
    }
    if (view->registry != SwarmView::Registry::Registered) {
        AnnounceOutcome outcome;
        outcome.status = view->registry == SwarmView::Registry::Banned ? StoreStatus::Banned
                                                                       : StoreStatus::NotRegistered;
        return outcome;
    }
    return recordAndAnswer(request, view->tid, view->counts, view->peers, candidates, 0);
}

AnswerSources MysqlSwarmStore::answerSources() const {
    AnswerSources sources;
    sources.replica = answeredFrom_.replica.load(std::memory_order_relaxed);
    sources.awaitedOthers = meetWaits_.load(std::memory_order_relaxed);
    sources.cache = answeredFrom_.cache.load(std::memory_order_relaxed);
    sources.database = answeredFrom_.database.load(std::memory_order_relaxed);
    return sources;
}

AnnounceOutcome MysqlSwarmStore::announce(const AnnounceRequest& request,
                                          std::uint32_t candidates) {
    if (cache_ || options_.writer || options_.replica)
        return announceReadFirst(request, candidates);
    answeredFrom_.database.fetch_add(1, std::memory_order_relaxed);
    return withSession<AnnounceOutcome>(pool_, [&](DbSession& session) {
        AnnounceOutcome outcome;
        sql::PreparedStatement& find = session.statement(kFindTorrent);
        find.setString(1, bytes(protocol::view(request.infoHash)));
        std::unique_ptr<sql::ResultSet> torrent(find.executeQuery());
        if (!torrent->next()) {
            outcome.status = StoreStatus::NotRegistered;
            return outcome;
        }
        std::uint32_t tid = torrent->getUInt(1);
        if (torrent->getInt(2) != 0) {
            outcome.status = StoreStatus::Banned;
            return outcome;
        }
        std::int64_t swarmBefore = torrent->getInt64(3);
        torrent.reset();

        // Written as the write-behind writes (a completion counted once per peer, even for a
        // peer not seen before; the row found by its key), only now and alone.
        feed::applyPeerWrites(session, {writeFor(request, tid, 0)});
        if (request.event == AnnounceEvent::Stopped)
            candidates = 0;  // a stopping peer needs nobody
        readSwarm(session, request, tid, candidates, swarmBefore, outcome);
        return outcome;
    });
}

ScrapeOutcome MysqlSwarmStore::scrape(const std::vector<protocol::InfoHash>& infoHashes) {
    return withSession<ScrapeOutcome>(pool_, [&](DbSession& session) {
        ScrapeOutcome outcome;
        sql::PreparedStatement& find = session.statement(kScrapeOne);
        for (const protocol::InfoHash& hash : infoHashes) {
            find.setString(1, bytes(protocol::view(hash)));
            std::unique_ptr<sql::ResultSet> row(find.executeQuery());
            if (!row->next())
                continue;
            protocol::ScrapeEntry entry;
            entry.infoHash = hash;
            entry.name = row->getString(1).asStdString();
            entry.counts.downloaded = nonNegative(row->getInt64(2));
            entry.counts.complete = nonNegative(row->getInt64(3));
            entry.counts.incomplete = nonNegative(row->getInt64(4));
            outcome.entries.push_back(std::move(entry));
        }
        return outcome;
    });
}

ReadOutcome MysqlSwarmStore::scrapeAll(const ScrapeSink& sink) {
    constexpr std::uint32_t kChunk = 10000;
    std::string after;  // the last info hash read; none before the first chunk
    for (bool first = true;; first = false) {
        std::vector<protocol::ScrapeEntry> chunk;
        std::string last;
        std::uint32_t rowsRead = 0;
        ReadOutcome read = withSession<ReadOutcome>(pool_, [&](DbSession& session) {
            chunk.clear();  // a retry starts the chunk again
            rowsRead = 0;
            sql::PreparedStatement& next = session.statement(first ? kScrapeAllFirst : kScrapeAll);
            if (first) {
                next.setUInt(1, kChunk);
            } else {
                next.setString(1, bytes(after));
                next.setUInt(2, kChunk);
            }
            std::unique_ptr<sql::ResultSet> rows(next.executeQuery());
            chunk.reserve(rows->rowsCount());
            while (rows->next()) {
                std::string hash = rows->getString(1).asStdString();
                last = hash;
                ++rowsRead;
                if (hash.size() != 20)
                    continue;
                protocol::ScrapeEntry entry;
                std::copy(hash.begin(), hash.end(), entry.infoHash.begin());
                entry.name = rows->getString(2).asStdString();
                entry.counts.downloaded = nonNegative(rows->getInt64(3));
                entry.counts.complete = nonNegative(rows->getInt64(4));
                entry.counts.incomplete = nonNegative(rows->getInt64(5));
                chunk.push_back(std::move(entry));
            }
            return ReadOutcome{};
        });
        if (read.status != StoreStatus::Ok)
            return read;
        bool done = rowsRead < kChunk;
        if (!chunk.empty() && !sink(chunk))
            return {};
        if (done)
            return {};
        after = std::move(last);
    }
}

}  // namespace tracker::store
