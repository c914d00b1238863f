#include "admin/admin_store.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "db/session_retry.h"
#include "feed/numbered_transaction.h"

namespace tracker::admin {

using db::ConnectionPool;
using db::DbSession;
using db::isConnectionLost;
namespace {

// --- The statements. Placeholders only: names and search text are bound, never spliced. ---

// The seeder and leecher counters live in tracker_swarms (migration 003), kept by triggers.
#define TRACKER_TORRENTS_AND_COUNTERS "FROM torrents t LEFT JOIN tracker_swarms s ON s.tid = t.tid "
#define TRACKER_TORRENT_COLUMNS                                                \
    "SELECT t.tid, t.infohash, t.name, t.banned + 0, COALESCE(s.seeders, 0), " \
    "COALESCE(s.leechers, 0), t.downloaded, t.added, t.updated " TRACKER_TORRENTS_AND_COUNTERS

constexpr const char* kTorrentByHash = TRACKER_TORRENT_COLUMNS "WHERE t.infohash = ?";
constexpr const char* kTorrentById = TRACKER_TORRENT_COLUMNS "WHERE t.tid = ?";

constexpr const char* kInsertTorrent = "INSERT INTO torrents (infohash, name) VALUES (?, ?)";
constexpr const char* kRenameTorrent = "UPDATE torrents SET name = ? WHERE tid = ?";
// The state in the WHERE clause makes the affected row count say whether anything changed.
constexpr const char* kBan = "UPDATE torrents SET banned = b'1' WHERE tid = ? AND banned = b'0'";
constexpr const char* kUnban = "UPDATE torrents SET banned = b'0' WHERE tid = ? AND banned = b'1'";
// Its peers go too: peers.tid REFERENCES torrents ON DELETE CASCADE.
constexpr const char* kDeleteTorrent = "DELETE FROM torrents WHERE tid = ?";

// One fixed filter; a flag of 0 switches its condition off. `!` escapes LIKE's wildcards, so
// that the admin's text is matched literally whatever the server's backslash mode.
#define TRACKER_LIST_FILTER                                                                    \
    "WHERE (? = 0 OR t.banned = b'1') AND (? = 0 OR COALESCE(s.seeders + s.leechers, 0) > 0) " \
    "AND t.name LIKE ? ESCAPE '!' "

constexpr const char* kListTorrents =
    TRACKER_TORRENT_COLUMNS TRACKER_LIST_FILTER "ORDER BY t.tid LIMIT ? OFFSET ?";
constexpr const char* kCountTorrents =
    "SELECT COUNT(*) " TRACKER_TORRENTS_AND_COUNTERS TRACKER_LIST_FILTER;
#undef TRACKER_LIST_FILTER
#undef TRACKER_TORRENT_COLUMNS

constexpr const char* kTotals =
    "SELECT COUNT(*), COALESCE(SUM(t.banned + 0), 0), "
    "COALESCE(SUM(COALESCE(s.seeders + s.leechers, 0) > 0), 0), COALESCE(SUM(s.seeders), 0), "
    "COALESCE(SUM(s.leechers), 0), COALESCE(SUM(t.downloaded), 0), "
    "(SELECT COUNT(*) FROM peers) " TRACKER_TORRENTS_AND_COUNTERS;
#undef TRACKER_TORRENTS_AND_COUNTERS

constexpr int kDuplicateKey = 1062;
constexpr int kIncorrectStringValue = 1366;
constexpr int kUnknownColumn = 1054;
constexpr int kNoSuchTable = 1146;

// The PHP schema's `name` is VARCHAR(255) in MariaDB's 3-byte `utf8`: strict mode refuses a
// longer name, invalid UTF-8 and (unless a site widened the column) 4-byte characters such as
// emoji. A name is only display text, so it is made to fit rather than refusing the torrent.
constexpr std::size_t kNameChars = 255;
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
std::size_t utf8SequenceLength(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    std::size_t length;
    std::uint32_t minimum;
    std::uint32_t code;
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0) {
        length = 2, minimum = 0x80, code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, minimum = 0x800, code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4, minimum = 0x10000, code = lead & 0x07;
    } else {
        return 0;
    }
    if (i + length > text.size())
        return 0;
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (byte(i + k) & 0x3F);
    }
    bool surrogate = code >= 0xD800 && code <= 0xDFFF;
    return code < minimum || code > 0x10FFFF || surrogate ? 0 : length;
}

// At most kNameChars characters of valid UTF-8; with bmpOnly, 4-byte characters replaced too.
std::string fitName(std::string_view raw, bool bmpOnly, bool& adjusted) {
    std::string out;
    std::size_t characters = 0;
    for (std::size_t i = 0; i < raw.size(); ++characters) {
        if (characters == kNameChars) {
            adjusted = true;  // cut
            break;
        }
        std::size_t length = utf8SequenceLength(raw, i);
        if (length == 0 || (bmpOnly && length == 4)) {
            out += kReplacement;
            adjusted = true;
            i += std::max<std::size_t>(length, 1);
        } else {
            out.append(raw.substr(i, length));
            i += length;
        }
    }
    return out;
}

sql::SQLString bytes(std::string_view data) {
    return sql::SQLString(data.data(), data.size());
}

std::string escapeLike(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '!' || c == '%' || c == '_')
            out.push_back('!');
        out.push_back(c);
    }
    return out;
}

TorrentRow readRow(sql::ResultSet& rows) {
    TorrentRow row;
    row.tid = rows.getUInt(1);
    std::string hash = rows.getString(2).asStdString();
    std::copy_n(hash.begin(), std::min<std::size_t>(hash.size(), 20), row.infoHash.begin());
    row.name = rows.getString(3).asStdString();
    row.banned = rows.getInt(4) != 0;
    row.seeders = rows.getInt64(5);
    row.leechers = rows.getInt64(6);
    row.downloaded = rows.getInt64(7);
    row.added = rows.getString(8).asStdString();
    row.updated = rows.getString(9).asStdString();
    return row;
}

std::optional<TorrentRow> findTorrent(DbSession& session, const TorrentKey& key) {
    sql::PreparedStatement* find;
    if (const auto* hash = std::get_if<protocol::InfoHash>(&key)) {
        find = &session.statement(kTorrentByHash);
        find->setString(1, bytes(protocol::view(*hash)));
    } else {
        find = &session.statement(kTorrentById);
        find->setUInt(1, std::get<std::uint32_t>(key));
    }
    std::unique_ptr<sql::ResultSet> rows(find->executeQuery());
    if (!rows->next())
        return std::nullopt;
    return readRow(*rows);
}

AdminError notFound(const TorrentKey& key) {
    if (std::holds_alternative<std::uint32_t>(key))
        return {AdminStatus::NotFound,
                "no torrent with id " + std::to_string(std::get<std::uint32_t>(key))};
    return {AdminStatus::NotFound, "no torrent registered with that info hash"};
}

std::string describe(const sql::SQLException& error) {
    std::string message =
        "database error " + std::to_string(error.getErrorCode()) + ": " + error.what();
    if (error.getErrorCode() == kUnknownColumn || error.getErrorCode() == kNoSuchTable)
        message += " (is the schema migrated? run `trackerctl migrate`)";
    return message;
}

// Runs `work` on a session from the pool; a database error becomes an AdminError. A deadlock
// victim was rolled back whole and is tried again: the site's own writers (the PHP, SQL by
// hand) lock a torrent's row before the feed's numbering, the other way round from ours, and
// an admin must not see an error for what InnoDB resolved by itself. Every operation here can
// run twice: it reads the row again and writes only what is still to change.
template <typename T, typename Work>
AdminResult<T> withAdminSession(ConnectionPool& pool, Work work) {
    constexpr int kAttempts = 3;
    for (int attempt = 1;; ++attempt) {
        auto leased = pool.acquire();
        if (!leased.lease)
            return AdminError{AdminStatus::Unavailable, leased.message};
        try {
            return work(leased.lease->session());
        } catch (const sql::SQLException& error) {
            if (isConnectionLost(error))
                leased.lease->markBroken();
            if (!db::isTransientConflict(error) || attempt == kAttempts)
                return AdminError{AdminStatus::Unavailable, describe(error)};
        }
    }
}

// A write whose triggers take a number of the change feed (a registration, a ban, an unban, a
// removal) runs in a numbered transaction: the numbering is locked before the torrent's row,
// in the order of the workers' flushes. Left to the trigger, the number would be locked after
// the row, and a flush that holds the numbering and checks that row for a peer's foreign key
// would close a deadlock with it.
template <typename Write>
void numbered(DbSession& session, Write write) {
    feed::inNumberedTransaction(session, write);
}

// Runs a name-writing statement; retries once with 4-byte characters replaced when the column
// is 3-byte utf8 and refuses them.
void writeName(sql::PreparedStatement& statement, unsigned int nameIndex, const std::string& name,
               bool& adjusted) {
    bool fitted = false;
    std::string text = fitName(name, false, fitted);
    statement.setString(nameIndex, bytes(text));
    try {
        statement.executeUpdate();
    } catch (const sql::SQLException& error) {
        if (error.getErrorCode() != kIncorrectStringValue)
            throw;
        text = fitName(name, true, fitted);
        statement.setString(nameIndex, bytes(text));
        statement.executeUpdate();
    }
    adjusted = fitted;
}

}  // namespace

AdminResult<Registration> AdminStore::registerTorrent(const protocol::InfoHash& infoHash,
                                                      const std::string& name, bool replaceName) {
    return withAdminSession<
        Registration>(pool_, [&](DbSession& session) -> AdminResult<Registration> {
        Registration registration;
        std::optional<TorrentRow> existing = findTorrent(session, infoHash);
        if (!existing) {
            sql::PreparedStatement& insert = session.statement(kInsertTorrent);
            insert.setString(1, bytes(protocol::view(infoHash)));
            try {
                numbered(session, [&] { writeName(insert, 2, name, registration.nameAdjusted); });
                registration.created = true;
            } catch (const sql::SQLException& error) {
                if (error.getErrorCode() != kDuplicateKey)
                    throw;  // else someone registered it in between: it is there, as wanted
            }
        } else if (replaceName) {
            bool adjusted = false;
            if (fitName(name, false, adjusted) != existing->name) {
                sql::PreparedStatement& rename = session.statement(kRenameTorrent);
                rename.setUInt(2, existing->tid);
                writeName(rename, 1, name, registration.nameAdjusted);
            }
        }
        std::optional<TorrentRow> stored = findTorrent(session, infoHash);
        if (!stored)
            return AdminError{AdminStatus::Unavailable, "the torrent vanished while registering"};
        registration.nameChanged = existing && existing->name != stored->name;
        registration.torrent = std::move(*stored);
        return registration;
    });
}

AdminResult<BanChange> AdminStore::setBanned(const TorrentKey& key, bool banned) {
    return withAdminSession<BanChange>(pool_, [&](DbSession& session) -> AdminResult<BanChange> {
        std::optional<TorrentRow> torrent = findTorrent(session, key);
        if (!torrent)
            return notFound(key);
        sql::PreparedStatement& update = session.statement(banned ? kBan : kUnban);
        update.setUInt(1, torrent->tid);
        BanChange change;
        numbered(session, [&] { change.changed = update.executeUpdate() > 0; });
        std::optional<TorrentRow> stored = findTorrent(session, torrent->tid);
        if (!stored)
            return notFound(key);  // removed in between
        change.torrent = std::move(*stored);
        return change;
    });
}

AdminResult<TorrentRow> AdminStore::remove(const TorrentKey& key) {
    return withAdminSession<TorrentRow>(pool_, [&](DbSession& session) -> AdminResult<TorrentRow> {
        std::optional<TorrentRow> torrent = findTorrent(session, key);
        if (!torrent)
            return notFound(key);
        sql::PreparedStatement& remove = session.statement(kDeleteTorrent);
        remove.setUInt(1, torrent->tid);
        bool removed = false;
        numbered(session, [&] { removed = remove.executeUpdate() > 0; });
        if (!removed)
            return notFound(key);  // removed in between
        return *torrent;
    });
}

AdminResult<TorrentRow> AdminStore::show(const TorrentKey& key) {
    return withAdminSession<TorrentRow>(pool_, [&](DbSession& session) -> AdminResult<TorrentRow> {
        std::optional<TorrentRow> torrent = findTorrent(session, key);
        if (!torrent)
            return notFound(key);
        return *torrent;
    });
}

AdminResult<TorrentPage> AdminStore::list(const ListFilter& filter) {
    return withAdminSession<TorrentPage>(
        pool_, [&](DbSession& session) -> AdminResult<TorrentPage> {
            std::string pattern = "%" + escapeLike(filter.nameContains) + "%";
            auto bindFilter = [&](sql::PreparedStatement& statement) {
                statement.setInt(1, filter.bannedOnly ? 1 : 0);
                statement.setInt(2, filter.activeOnly ? 1 : 0);
                statement.setString(3, bytes(pattern));
            };
            TorrentPage page;
            sql::PreparedStatement& count = session.statement(kCountTorrents);
            bindFilter(count);
            std::unique_ptr<sql::ResultSet> counted(count.executeQuery());
            if (counted->next())
                page.total = counted->getUInt64(1);
            counted.reset();

            sql::PreparedStatement& select = session.statement(kListTorrents);
            bindFilter(select);
            select.setUInt64(
                4, filter.limit == 0 ? std::numeric_limits<std::uint64_t>::max() : filter.limit);
            select.setUInt64(5, filter.offset);
            std::unique_ptr<sql::ResultSet> rows(select.executeQuery());
            while (rows->next())
                page.torrents.push_back(readRow(*rows));
            return page;
        });
}

AdminResult<TrackerTotals> AdminStore::totals() {
    return withAdminSession<TrackerTotals>(
        pool_, [&](DbSession& session) -> AdminResult<TrackerTotals> {
            std::unique_ptr<sql::ResultSet> row(session.statement(kTotals).executeQuery());
            TrackerTotals totals;
            if (row->next()) {
                totals.torrents = row->getInt64(1);
                totals.banned = row->getInt64(2);
                totals.active = row->getInt64(3);
                totals.seeders = row->getInt64(4);
                totals.leechers = row->getInt64(5);
                totals.completions = row->getInt64(6);
                totals.peers = row->getInt64(7);
            }
            return totals;
        });
}

}  // namespace tracker::admin
