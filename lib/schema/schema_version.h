// Which of our migrations the database has: tracker-fcgi and tracker-cron refuse a database
// without the ones they need (the workers' write-behind and replica would fail on every flush,
// quietly to clients, while announces pile up in the queue; the cleanup names its indexes).
#pragma once

#include <optional>

#include "db/connection_pool.h"

namespace tracker::schema {

// The highest migration this build's SQL relies on (sql/migrations/009_*: the registry's
// change feed, which the replica follows, and the cleanup's indexes).
constexpr unsigned kRequiredSchemaVersion = 9;

// The highest migration recorded in `tracker_schema` (0: none, or no such table); none when
// the database cannot be reached (then the caller starts anyway: the pool reconnects later).
std::optional<unsigned> appliedSchemaVersion(db::ConnectionPool& pool);
// The same on a connected session; throws sql::SQLException when the server fails.
unsigned appliedSchemaVersion(db::DbSession& session);

}  // namespace tracker::schema
