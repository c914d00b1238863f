// `trackerctl migrate --dry-run`: what a migration would do to this database, step by step —
// which tables each step touches and how (a new table, a moment's metadata lock, row locks one
// batch at a time, a rebuild beside the table), about how long it takes at the table's size,
// and the privileges it needs against those the account has. Reads only.
#pragma once

#include <string>
#include <vector>

#include "db/connection_pool.h"
#include "schema/migrations.h"

namespace tracker::schema {

struct PlannedStep {
    std::string file;
    std::size_t line = 0;
    std::string statement;  // its first line
    std::string table;      // "" when it touches no existing table
    long long rows = -1;    // the table's row estimate (information_schema), -1 when none
    std::string effect;     // what the site's writers see while it runs
    double seconds = 0;     // expected duration at `rows`, 0 for a moment
};

struct MigrationPlan {
    bool ok = false;
    std::string error;
    std::string account;  // CURRENT_USER() of the connection
    std::vector<std::string> alreadyApplied;
    std::vector<std::string> checked;  // unversioned files, run every time (schema.sql)
    std::vector<std::string> pending;  // migrations not recorded yet
    std::vector<PlannedStep> steps;
    std::vector<std::string> privilegesNeeded;   // on the database, for the pending steps
    std::vector<std::string> privilegesMissing;  // of those, what information_schema does not show
    std::vector<std::string> notes;              // binary logging, what was not checked
};

MigrationPlan planMigrations(db::ConnectionPool& pool, const std::vector<SqlFile>& files);

// What one statement does, without a database: its effect, the table it touches, the
// privileges it needs, and its cost per row of that table (seconds), from its text and
// directive. Exposed for the unit tests.
struct StepShape {
    std::string table;
    std::string effect;
    std::vector<std::string> privileges;
    double secondsPerRow = 0;
};
StepShape shapeOf(const SqlStatement& statement);

}  // namespace tracker::schema
