// Which of our migrations the database has: tracker-fcgi refuses to serve a database without
// the ones it needs (its write-behind and replica would fail on every flush, quietly to
// clients, while announces pile up in the queue).
#pragma once

#include <optional>

#include "db/connection_pool.h"

namespace tracker::schema {

// The highest migration this build's SQL relies on (sql/migrations/008_*: the registry's
// change feed, which the replica follows).
constexpr unsigned kRequiredSchemaVersion = 8;

// The highest migration recorded in `tracker_schema` (0: none, or no such table); none when
// the database cannot be reached (then the caller starts anyway: the pool reconnects later).
std::optional<unsigned> appliedSchemaVersion(db::ConnectionPool& pool);

}  // namespace tracker::schema
