#include "store/peer_writer.h"

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "store/session_retry.h"
#include "store/swarm_statements.h"
#include "util/log.h"

namespace tracker::store {
namespace {

// Rows per upsert statement: a batch is written in chunks of these sizes, biggest first, each
// a statement prepared once per connection.
constexpr std::size_t kChunkSizes[] = {256, 32, 4, 1};

// Only placeholders are repeated: no request byte is ever part of the SQL text.
const char* upsertStatement(std::size_t rows) {
    static const auto texts = [] {
        std::map<std::size_t, std::string> built;
        for (std::size_t size : kChunkSizes) {
            std::string text = statements::kUpsertPeersHead;
            for (std::size_t i = 0; i < size; ++i) {
                text += i == 0 ? "" : ", ";
                text += statements::kUpsertPeersRow;
            }
            text += statements::kUpsertPeersTail;
            built.emplace(size, std::move(text));
        }
        return built;
    }();
    return texts.at(rows).c_str();
}

sql::SQLString bytes(std::string_view data) {
    return sql::SQLString(data.data(), data.size());
}

std::uint32_t randomRnd() {
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_int_distribution<std::uint32_t>(1, 0xffffffffu)(rng);
}

struct FlushOutcome {
    StoreStatus status = StoreStatus::Ok;
    std::string message;
};

}  // namespace

std::vector<PeerWrite> coalescePeerWrites(std::vector<PeerWrite> writes) {
    struct Folded {
        PeerWrite write;
        bool counted = false;        // a completion of this batch is counted already
        bool seederInBatch = false;  // an earlier write of this batch made the peer a seeder
    };
    std::map<std::pair<std::uint32_t, std::string_view>, Folded> byPeer;
    for (const PeerWrite& write : writes) {
        Folded& folded = byPeer[{write.tid, write.uid.view()}];
        if (write.completed && !folded.seederInBatch)
            folded.counted = true;
        folded.write = write;
        folded.write.completed = folded.counted;
        if (write.kind == PeerWrite::Kind::Upsert && write.left == 0)
            folded.seederInBatch = true;
    }
    std::vector<PeerWrite> folded;
    folded.reserve(byPeer.size());
    for (auto& entry : byPeer)
        folded.push_back(entry.second.write);
    return folded;
}

void applyPeerWrites(DbSession& session, const std::vector<PeerWrite>& writes) {
    for (const PeerWrite& write : writes) {
        if (!write.completed)
            continue;
        sql::PreparedStatement& count = session.statement(statements::kCountCompletion);
        count.setUInt(1, write.tid);
        count.setString(2, bytes(write.uid));
        count.setUInt(3, write.tid);
        count.executeUpdate();
    }
    std::vector<const PeerWrite*> upserts;
    upserts.reserve(writes.size());
    for (const PeerWrite& write : writes) {
        if (write.kind == PeerWrite::Kind::Upsert) {
            upserts.push_back(&write);
            continue;
        }
        sql::PreparedStatement& remove = session.statement(statements::kDeletePeer);
        remove.setString(1, bytes(write.uid));
        remove.setUInt(2, write.tid);
        remove.executeUpdate();
    }
    std::size_t next = 0;
    while (next < upserts.size()) {
        std::size_t rows = 1;
        for (std::size_t size : kChunkSizes) {
            if (upserts.size() - next >= size) {
                rows = size;
                break;
            }
        }
        sql::PreparedStatement& upsert = session.statement(upsertStatement(rows));
        unsigned column = 1;
        for (std::size_t i = 0; i < rows; ++i) {
            const PeerWrite& write = *upserts[next + i];
            upsert.setUInt(column++, write.tid);
            upsert.setString(column++, bytes(write.uid));
            upsert.setString(column++, bytes(write.peerId));
            upsert.setString(column++, write.address.toString());
            upsert.setUInt(column++, write.port);
            upsert.setInt(column++, write.requiresCrypto ? 1 : 0);
            upsert.setUInt64(column++, write.left);
            upsert.setUInt(column++, randomRnd());
        }
        upsert.executeUpdate();
        next += rows;
    }
}

PeerWriter::PeerWriter(ConnectionPool& pool, std::chrono::milliseconds interval,
                       std::size_t maxPending)
    : pool_(pool), interval_(interval), maxPending_(maxPending), thread_([this] { run(); }) {}

PeerWriter::~PeerWriter() {
    stop();
}

void PeerWriter::enqueue(const PeerWrite& write) {
    bool full;
    {
        std::lock_guard<std::mutex> lock(mutex_);
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

bool PeerWriter::flush() {
    std::lock_guard<std::mutex> flushing(flushing_);
    std::vector<PeerWrite> batch;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        batch.assign(std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.end()));
        pending_.clear();
    }
    if (batch.empty())
        return true;
    std::vector<PeerWrite> folded = coalescePeerWrites(batch);
    FlushOutcome outcome = withSession<FlushOutcome>(pool_, [&](DbSession& session) {
        applyPeerWrites(session, folded);
        return FlushOutcome{};
    });
    std::lock_guard<std::mutex> lock(mutex_);
    if (outcome.status == StoreStatus::Ok) {
        stats_.written += folded.size();
        ++stats_.flushes;
        return true;
    }
    // Back in front of what came since, in order; the oldest go first if that overfills.
    ++stats_.failedFlushes;
    pending_.insert(pending_.begin(), std::make_move_iterator(folded.begin()),
                    std::make_move_iterator(folded.end()));
    while (pending_.size() > maxPending_) {
        pending_.pop_front();
        ++stats_.dropped;
    }
    util::logErrorThrottled("peer-writer",
                            "writing peers failed, kept for the next try: " + outcome.message);
    return false;
}

void PeerWriter::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, interval_, [this] { return stopping_; });
        if (stopping_)
            break;
        lock.unlock();
        flush();
        lock.lock();
    }
}

void PeerWriter::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ && !thread_.joinable())
            return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
    flush();
}

PeerWriter::Stats PeerWriter::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    Stats stats = stats_;
    stats.pending = pending_.size();
    return stats;
}

}  // namespace tracker::store
