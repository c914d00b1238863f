// The admin operations of trackerctl on the `torrents` and `peers` tables: register, ban,
// unban, remove, list, show and totals. Errors come back as values, never as exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "db/connection_pool.h"
#include "protocol/announce_request.h"

namespace tracker::admin {

// How the admin names a torrent: by info hash or by its `tid`.
using TorrentKey = std::variant<protocol::InfoHash, std::uint32_t>;

struct TorrentRow {
    std::uint32_t tid = 0;
    protocol::InfoHash infoHash{};
    std::string name;
    bool banned = false;
    std::int64_t seeders = 0;  // the counter columns the triggers keep (migration 003)
    std::int64_t leechers = 0;
    std::int64_t downloaded = 0;  // completions
    std::string added;            // "YYYY-MM-DD HH:MM:SS", the server's time zone
    std::string updated;
};

enum class AdminStatus {
    Ok,
    NotFound,     // no torrent with that hash or tid
    Unavailable,  // the database cannot be reached or refused the operation
};

struct AdminError {
    AdminStatus status = AdminStatus::Unavailable;
    std::string message;
};

template <typename T>
using AdminResult = std::variant<T, AdminError>;

struct Registration {
    bool created = false;       // false: the hash was registered already
    bool nameChanged = false;   // an existing row got the new name
    bool nameAdjusted = false;  // the name was cut or cleaned to fit the column (see .cpp)
    TorrentRow torrent;         // as stored now
};

struct BanChange {
    bool changed = false;  // false: it was in that state already
    TorrentRow torrent;    // as stored now
};

struct ListFilter {
    bool bannedOnly = false;
    bool activeOnly = false;   // with at least one peer
    std::string nameContains;  // "" = any; matched literally (no LIKE wildcards)
    std::uint64_t limit = 50;  // 0 = no limit
    std::uint64_t offset = 0;
};

struct TorrentPage {
    std::uint64_t total = 0;           // rows matching the filter, before paging
    std::vector<TorrentRow> torrents;  // ordered by tid
};

struct TrackerTotals {
    std::int64_t torrents = 0;
    std::int64_t banned = 0;
    std::int64_t active = 0;  // torrents with at least one peer
    std::int64_t peers = 0;
    std::int64_t seeders = 0;
    std::int64_t leechers = 0;
    std::int64_t completions = 0;  // SUM(downloaded)
};

class AdminStore {
  public:
    explicit AdminStore(db::ConnectionPool& pool) : pool_(pool) {}

    // Registers the hash. Registering it again is not an error: the row is kept, and its name
    // is replaced only when `replaceName` is set.
    AdminResult<Registration> registerTorrent(const protocol::InfoHash& infoHash,
                                              const std::string& name, bool replaceName);
    AdminResult<BanChange> setBanned(const TorrentKey& key, bool banned);
    // Deletes the torrent; its peers go with it (the FK cascades). Returns the row as it was.
    AdminResult<TorrentRow> remove(const TorrentKey& key);
    AdminResult<TorrentRow> show(const TorrentKey& key);
    AdminResult<TorrentPage> list(const ListFilter& filter);
    AdminResult<TrackerTotals> totals();

  private:
    db::ConnectionPool& pool_;
};

}  // namespace tracker::admin
