#include "feed/peer_writer.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>

#include "db/session_retry.h"
#include "feed/numbered_transaction.h"
#include "feed/write_statements.h"
#include "util/log.h"

namespace tracker::feed {

using db::withSession;

using db::DbSession;
using db::DbStatus;
using db::WorkOutcome;

namespace {

// Rows per multi-row statement, each size a statement prepared once per connection: 1 to 15,
// multiples of 16 up to 128, then 192 and 256, the biggest that fits first. So a batch under
// 128 rows takes at most two statements, one under 256 three: each is a round trip and some
// fixed work on the primary, which every worker host's flushes pay. Exact sizes would take
// one, but a prepared statement costs the server about 5 KB a row and a flush's size varies:
// these 25 sizes hold at most 1,144 rows' worth per kind of statement on a connection (the
// powers of two, which took up to eight statements, held 511).
std::size_t chunkFor(std::size_t left) {
    if (left >= 256)
        return 256;
    if (left >= 192)
        return 192;
    if (left >= 16)
        return std::min<std::size_t>(left - left % 16, 128);
    return left;
}

// A statement of `rows` rows: head, `row` that many times comma-separated, tail. Only
// placeholders are repeated: no request byte is ever part of the SQL text. The texts live as
// long as the process (a session caches its statements by their address).
struct RepeatedStatement {
    const char* head;
    const char* row;
    const char* tail;
    const char* separator = ", ";
    const char* of(std::size_t rows) const {
        static std::mutex mutex;
        static std::map<std::pair<const char*, std::size_t>, std::string> built;
        std::lock_guard<std::mutex> lock(mutex);
        std::string& text = built[{head, rows}];
        if (text.empty()) {
            text = head;
            for (std::size_t i = 0; i < rows; ++i) {
                text += i == 0 ? "" : separator;
                text += row;
            }
            text += tail;
        }
        return text.c_str();
    }
};
constexpr RepeatedStatement kUpdatePeers{statements::kUpdatePeersHead, statements::kUpdatePeersRow,
                                         statements::kUpdatePeersTail};
constexpr RepeatedStatement kInsertPeers{statements::kInsertPeersHead, statements::kInsertPeersRow,
                                         statements::kInsertPeersTail};
constexpr RepeatedStatement kDeletePeers{statements::kDeletePeersHead, statements::kDeletePeersRow,
                                         statements::kDeletePeersTail};
constexpr RepeatedStatement kFindPeers{statements::kFindPeersHead, statements::kFindPeersRow,
                                       statements::kFindPeersTail};
constexpr RepeatedStatement kTouchPeers{statements::kTouchPeersHead, statements::kTouchPeersRow,
                                        statements::kTouchPeersTail,
                                        statements::kTouchPeersSeparator};

sql::SQLString bytes(std::string_view data) {
    return sql::SQLString(data.data(), data.size());
}

std::uint32_t randomRnd() {
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_int_distribution<std::uint32_t>(1, 0xffffffffu)(rng);
}

}  // namespace

std::vector<PeerWrite> coalescePeerWrites(std::vector<PeerWrite> writes) {
    // What the batch so far made of the peer's row: nothing yet (the table decides), gone, a
    // leecher, a seeder.
    enum class Row { AsInTable, Gone, Leecher, Seeder };
    struct Folded {
        PeerWrite write;
        Row row = Row::AsInTable;
        bool checkedCompletion = false;
        std::uint32_t moreCompletions = 0;
    };
    std::map<std::pair<std::uint32_t, std::string_view>, Folded> byPeer;
    for (const PeerWrite& write : writes) {
        auto [at, first] = byPeer.try_emplace({write.tid, write.uid.view()});
        Folded& folded = at->second;
        // A write coming back from a failed flush brings the completions it carried.
        if (write.completed || write.moreCompletions > 0) {
            std::uint32_t count = (write.completed ? 1 : 0) + write.moreCompletions;
            if (folded.row == Row::AsInTable && write.completed) {
                folded.checkedCompletion = true;
                --count;
            }
            if (folded.row != Row::Seeder || !write.completed)
                folded.moreCompletions += count;
        }
        std::uint32_t knownPid = folded.write.pid;
        // Whether the row needs looking up is a matter of the table before the batch.
        bool knownAbsent = first ? write.knownAbsent : folded.write.knownAbsent;
        folded.write = write;
        folded.write.knownAbsent = knownAbsent;
        if (write.pid == 0)  // the same peer's row, known from an earlier write
            folded.write.pid = knownPid;
        if (write.kind == PeerWrite::Kind::Delete)
            folded.row = Row::Gone;
        else
            folded.row = write.left == 0 ? Row::Seeder : Row::Leecher;
        folded.write.completed = folded.checkedCompletion;
        folded.write.moreCompletions =
            static_cast<std::uint16_t>(std::min<std::uint32_t>(folded.moreCompletions, 0xffff));
    }
    std::vector<PeerWrite> folded;
    folded.reserve(byPeer.size());
    for (auto& entry : byPeer)
        folded.push_back(entry.second.write);
    return folded;
}

namespace {

// The multi-row statements of `writes`, biggest first; the rows themselves must outlive them.
void addChunks(std::vector<NumberedStatement>& into, const RepeatedStatement& statement,
               const std::vector<const PeerWrite*>& writes, bool withPid) {
    for (std::size_t next = 0; next < writes.size();) {
        std::size_t rows = chunkFor(writes.size() - next);
        std::vector<const PeerWrite*> chunk(
            writes.begin() + static_cast<std::ptrdiff_t>(next),
            writes.begin() + static_cast<std::ptrdiff_t>(next + rows));
        into.push_back(
            {statement.of(rows), [chunk, withPid](sql::PreparedStatement& upsert, unsigned column) {
                 for (const PeerWrite* row : chunk) {
                     const PeerWrite& write = *row;
                     if (withPid)
                         upsert.setUInt(column++, write.pid);
                     upsert.setUInt(column++, write.tid);
                     upsert.setString(column++, bytes(write.uid));
                     upsert.setString(column++, bytes(write.peerId));
                     upsert.setString(column++, write.address.toString());
                     upsert.setUInt(column++, write.port);
                     upsert.setInt(column++, write.requiresCrypto ? 1 : 0);
                     upsert.setUInt64(column++, write.left);
                     upsert.setUInt(column++, randomRnd());
                 }
             }});
        next += rows;
    }
}

// The rows of the upserts that came without one (a peer this process wrote but has not pulled
// back yet, or no replica): a consistent read on the unique key, before the transaction takes
// its number. Not for a peer a fresh replica did not hold: most often a new one.
void findRows(DbSession& session, std::vector<PeerWrite>& writes) {
    std::vector<PeerWrite*> lookups;
    for (PeerWrite& write : writes)
        if (write.kind == PeerWrite::Kind::Upsert && write.pid == 0 && !write.knownAbsent)
            lookups.push_back(&write);
    std::map<std::pair<std::uint32_t, std::string_view>, PeerWrite*> byKey;
    for (PeerWrite* write : lookups)
        byKey[{write->tid, write->uid.view()}] = write;
    for (std::size_t next = 0; next < lookups.size();) {
        std::size_t rows = chunkFor(lookups.size() - next);
        sql::PreparedStatement& find = session.statement(kFindPeers.of(rows));
        unsigned column = 1;
        for (std::size_t i = 0; i < rows; ++i) {
            find.setString(column++, bytes(lookups[next + i]->uid));
            find.setUInt(column++, lookups[next + i]->tid);
        }
        std::unique_ptr<sql::ResultSet> found(find.executeQuery());
        while (found->next()) {
            std::string uid = found->getString(2).asStdString();
            auto write = byKey.find({found->getUInt(3), uid});
            if (write != byKey.end())
                write->second->pid = found->getUInt(1);
        }
        next += rows;
    }
}

// The batch's statements, in the order they run (and lock rows in): completions first (they
// look at the rows as they were), then departures, then the upserts. `writes` must outlive
// them.
std::vector<NumberedStatement> statementsFor(const std::vector<PeerWrite>& writes) {
    std::vector<NumberedStatement> batch;
    for (const PeerWrite& write : writes) {
        if (write.completed)
            batch.push_back({statements::kCountCompletion,
                             [&write](sql::PreparedStatement& count, unsigned column) {
                                 count.setUInt(column, write.tid);
                                 count.setString(column + 1, bytes(write.uid));
                                 count.setUInt(column + 2, write.tid);
                             }});
        if (write.moreCompletions > 0)
            batch.push_back({statements::kAddCompletions,
                             [&write](sql::PreparedStatement& add, unsigned column) {
                                 add.setUInt(column, write.moreCompletions);
                                 add.setUInt(column + 1, write.tid);
                             }});
    }
    std::vector<const PeerWrite*> known, unknown, removals;
    for (const PeerWrite& write : writes) {
        if (write.kind == PeerWrite::Kind::Delete)
            removals.push_back(&write);
        else
            (write.pid != 0 ? known : unknown).push_back(&write);
    }
    for (std::size_t next = 0; next < removals.size();) {
        std::size_t rows = chunkFor(removals.size() - next);
        std::vector<const PeerWrite*> chunk(
            removals.begin() + static_cast<std::ptrdiff_t>(next),
            removals.begin() + static_cast<std::ptrdiff_t>(next + rows));
        batch.push_back({rows == 1 ? statements::kDeletePeer : kDeletePeers.of(rows),
                         [chunk](sql::PreparedStatement& remove, unsigned column) {
                             for (const PeerWrite* write : chunk) {
                                 remove.setString(column++, bytes(write->uid));
                                 remove.setUInt(column++, write->tid);
                             }
                         }});
        next += rows;
    }
    addChunks(batch, kUpdatePeers, known, true);
    addChunks(batch, kInsertPeers, unknown, false);
    return batch;
}

void applyQuietTouches(DbSession& session, const std::vector<QuietTouches::Touch>& touches,
                       QuietTouches::Clock::time_point now) {
    if (touches.empty())
        return;
    session.setting(statements::kTouchTimeZone);
    for (std::size_t next = 0; next < touches.size();) {
        std::size_t rows = chunkFor(touches.size() - next);
        sql::PreparedStatement& touch = session.statement(kTouchPeers.of(rows));
        unsigned column = 1;
        for (std::size_t i = 0; i < rows; ++i) {
            const QuietTouches::Touch& held = touches[next + i];
            auto age = std::chrono::duration_cast<std::chrono::seconds>(now - held.heard);
            touch.setUInt(column++, held.pid);
            touch.setUInt(column++, held.tid);
            touch.setString(column++, bytes(held.uid));
            touch.setUInt64(column++, held.left);
            touch.setUInt64(column++,
                            static_cast<std::uint64_t>(std::max<std::int64_t>(age.count(), 0)));
        }
        touch.executeUpdate();  // one statement: all of its rows or none
        next += rows;
    }
}

}  // namespace

NumberedCommit applyPeerWrites(DbSession& session, const std::vector<PeerWrite>& writes) {
    std::vector<PeerWrite> resolved = writes;
    findRows(session, resolved);
    return inNumberedStatements(session, statementsFor(resolved));
}

PeerWriter::PeerWriter(db::ConnectionPool& pool, std::chrono::milliseconds interval)
    : PeerWriter(pool, interval, Options{}) {}

PeerWriter::PeerWriter(db::ConnectionPool& pool, std::chrono::milliseconds interval,
                       Options options)
    : pool_(pool),
      flushPool_(options.flushPool != nullptr ? *options.flushPool : pool),
      interval_(interval),
      maxPending_(std::max<std::size_t>(options.maxPending, 1)),
      rowsPerTransaction_(std::max<std::size_t>(options.rowsPerTransaction, 1)),
      hooks_(std::move(options.hooks)),
      thread_([this] { run(); }) {}

PeerWriter::~PeerWriter() {
    stop();
}

void PeerWriter::enqueue(const PeerWrite& write) {
    bool full;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (write.pid != 0)
            touches_.cancel(write.pid);
        if (pending_.size() >= maxPending_) {
            pending_.pop_front();
            ++stats_.dropped;
        }
        pending_.push_back(write);
        full = pending_.size() >= maxPending_;
    }
    if (full)
        util::logErrorThrottled("peer-writer",
                                "the peer write queue is full (database unreachable?): the "
                                "oldest announces are being dropped");
}

void PeerWriter::hold(const PeerWrite& write, std::chrono::steady_clock::duration wait) {
    if (write.kind != PeerWrite::Kind::Upsert || write.completed || write.pid == 0) {
        enqueue(write);  // not a re-announce of a known row
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (touches_.size() < maxPending_) {
            auto now = QuietTouches::Clock::now();
            QuietTouches::Touch touch;
            touch.pid = write.pid;
            touch.tid = write.tid;
            touch.uid = write.uid;
            touch.left = write.left;
            touch.heard = now;
            touches_.hold(touch, now + wait);
            ++stats_.held;
            return;
        }
    }
    enqueue(write);  // too many held: written with the next flush
}

WorkOutcome PeerWriter::writeNow(const PeerWrite& write) {
    auto started = std::chrono::steady_clock::now();
    NumberedCommit done;
    WorkOutcome outcome = withSession<WorkOutcome>(pool_, [&](DbSession& session) {
        done = applyPeerWrites(session, {write});
        return WorkOutcome{};
    });
    if (outcome.status != DbStatus::Ok)
        return outcome;
    auto took = std::chrono::steady_clock::now() - started;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.written;
        ++stats_.immediate;
        stats_.flushTime += std::chrono::duration_cast<std::chrono::microseconds>(took);
    }
    PeerWrite again = write;
    again.completed = false;
    again.moreCompletions = 0;
    enqueue(again);
    if (hooks_.committed)
        hooks_.committed(done);
    return outcome;
}

bool PeerWriter::flush(QuietTouches::Clock::time_point touchesDue) {
    std::lock_guard<std::mutex> flushing(flushing_);
    std::vector<PeerWrite> batch;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        batch.assign(std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.end()));
        pending_.clear();
        inFlight_ = batch.size();
    }
    // After the queue: a row the queue writes too had its held announce cancelled, and one
    // written meanwhile by a later announce is not taken back by the touch.
    return writeQueued(batch) && writeTouches(touchesDue);
}

bool PeerWriter::writeTouches(QuietTouches::Clock::time_point due) {
    std::vector<QuietTouches::Touch> touches;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        touches = touches_.takeDue(due);
    }
    if (touches.empty())
        return true;
    // In the order every flush locks rows in (coalescePeerWrites), so that this one and
    // another process's flush never wait on each other in a circle.
    std::sort(touches.begin(), touches.end(), [](const auto& a, const auto& b) {
        return std::pair(a.tid, a.uid.view()) < std::pair(b.tid, b.uid.view());
    });
    auto started = QuietTouches::Clock::now();
    WorkOutcome outcome = withSession<WorkOutcome>(flushPool_, [&](DbSession& session) {
        applyQuietTouches(session, touches, QuietTouches::Clock::now());
        return WorkOutcome{};
    });
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (outcome.status != DbStatus::Ok) {
            // Held again, due at once: a later announce of the row held since keeps its own.
            for (const QuietTouches::Touch& touch : touches)
                touches_.hold(touch, started);
            ++stats_.failedFlushes;
            util::logErrorThrottled(
                "peer-writer",
                "writing held re-announces failed, kept for the next try: " + outcome.message);
            return false;
        }
        stats_.touched += touches.size();
        stats_.flushTime += std::chrono::duration_cast<std::chrono::microseconds>(
            QuietTouches::Clock::now() - started);
    }
    if (hooks_.touchesWritten)
        hooks_.touchesWritten(touches);
    return true;
}

bool PeerWriter::writeQueued(std::vector<PeerWrite>& batch) {
    if (batch.empty())
        return true;
    std::vector<PeerWrite> folded = coalescePeerWrites(batch);
    // A backlog (after the database refused writes for a while) goes in transactions of at
    // most rowsPerTransaction_ rows, each with its own number: the sequence row is locked
    // for one chunk's time, so other writers (other processes, the cron, PHP pages) take
    // turns with the drain instead of waiting for all of it.
    for (std::size_t next = 0; next < folded.size();) {
        std::size_t rows = std::min(rowsPerTransaction_, folded.size() - next);
        std::vector<PeerWrite> chunk(folded.begin() + static_cast<std::ptrdiff_t>(next),
                                     folded.begin() + static_cast<std::ptrdiff_t>(next + rows));
        auto started = std::chrono::steady_clock::now();
        NumberedCommit done;
        WorkOutcome outcome = withSession<WorkOutcome>(flushPool_, [&](DbSession& session) {
            done = applyPeerWrites(session, chunk);
            return WorkOutcome{};
        });
        if (outcome.status != DbStatus::Ok) {
            requeue(folded, next, outcome.message);
            return false;
        }
        auto took = std::chrono::steady_clock::now() - started;
        next += rows;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stats_.written += rows;
            ++stats_.flushes;
            stats_.flushTime += std::chrono::duration_cast<std::chrono::microseconds>(took);
            // The writes folded away count as written with the first chunk.
            inFlight_ = next == folded.size() ? 0 : folded.size() - next;
        }
        if (hooks_.committed)
            hooks_.committed(done);
    }
    return true;
}

void PeerWriter::requeue(std::vector<PeerWrite>& folded, std::size_t from, const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Back in front of what came since, in order; the oldest go first if that overfills.
    ++stats_.failedFlushes;
    inFlight_ = 0;
    pending_.insert(pending_.begin(),
                    std::make_move_iterator(folded.begin() + static_cast<std::ptrdiff_t>(from)),
                    std::make_move_iterator(folded.end()));
    while (pending_.size() > maxPending_) {
        pending_.pop_front();
        ++stats_.dropped;
    }
    util::logErrorThrottled("peer-writer", "writing peers failed, kept for the next try: " + why);
}

void PeerWriter::run() {
    // Held announces are written at most once a second: they change nothing another process
    // sees, each carries its own time, and a second's more wait costs a row nothing, while a
    // statement costs the primary the same for ten rows as for one.
    const auto touchesEvery = std::max<Clock::duration>(interval_, std::chrono::seconds(1));
    Clock::time_point touchesWritten{};
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
        if (stopping_)
            break;
        lock.unlock();
        try {
            auto now = Clock::now();
            auto touchesDue = QuietTouches::Clock::time_point::min();
            if (now - touchesWritten >= touchesEvery) {
                touchesDue = now;
                touchesWritten = now;
            }
            flush(touchesDue);
        } catch (const std::exception& error) {  // not a database error: out of memory
            util::logErrorThrottled("peer-writer", std::string("flush failed: ") + error.what());
        }
        if (hooks_.ticked)
            hooks_.ticked();
        lock.lock();
    }
}

void PeerWriter::stop() {
    {
        std::lock_guard<std::mutex> stopping(stopping_mutex_);
        if (thread_.joinable()) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                stopping_ = true;
            }
            wake_.notify_all();
            thread_.join();
        }
    }
    flush();  // what is left, and anything queued after an earlier stop()
}

PeerWriter::Stats PeerWriter::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    Stats stats = stats_;
    stats.pending = pending_.size() + inFlight_;
    stats.heldNow = touches_.size();
    return stats;
}

}  // namespace tracker::feed
