#include "schema/schema_version.h"

namespace tracker::schema {

using db::ConnectionPool;
using db::DbSession;
using db::isConnectionLost;
namespace {

constexpr const char* kHighestVersion = "SELECT COALESCE(MAX(version), 0) FROM tracker_schema";
constexpr int kNoSuchTable = 1146;

}  // namespace

unsigned appliedSchemaVersion(DbSession& session) {
    try {
        std::unique_ptr<sql::ResultSet> row(session.statement(kHighestVersion).executeQuery());
        return row->next() ? row->getUInt(1) : 0u;
    } catch (const sql::SQLException& error) {
        if (error.getErrorCode() == kNoSuchTable)
            return 0u;
        throw;
    }
}

std::optional<unsigned> appliedSchemaVersion(ConnectionPool& pool) {
    auto leased = pool.acquire();
    if (!leased.lease)
        return std::nullopt;
    try {
        return appliedSchemaVersion(leased.lease->session());
    } catch (const sql::SQLException& error) {
        if (isConnectionLost(error))
            leased.lease->markBroken();
        return std::nullopt;
    }
}

}  // namespace tracker::schema
