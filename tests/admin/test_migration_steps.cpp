// How the migration runner reads its files' `-- migrate:` directives, and what a dry run says
// of each kind of statement: no database needed.
#include <catch2/catch.hpp>

#include "schema/migration_directive.h"
#include "schema/migration_plan.h"
#include "schema/migrations.h"
#include "schema/trigger_definer.h"

using namespace tracker::schema;

TEST_CASE("a `-- migrate:` line just before a statement is its directive, for it alone") {
    auto split = splitSqlStatements(
        "-- migrate: online rebuild\n"
        "ALTER TABLE peers MODIFY uid VARBINARY(10) NOT NULL;\n"
        "SELECT 1;\n"
        "-- a comment\n"
        "-- migrate: in batches of 500 by peers.pid\n"
        "UPDATE peers SET rnd = 1 WHERE pid BETWEEN @batch_first AND @batch_last;\n"
        "SELECT '-- migrate: not a directive';\n");
    REQUIRE(std::holds_alternative<std::vector<SqlStatement>>(split));
    const auto& statements = std::get<std::vector<SqlStatement>>(split);
    REQUIRE(statements.size() == 4);
    CHECK(statements[0].directive == "online rebuild");
    CHECK(statements[1].directive.empty());
    CHECK(statements[2].directive == "in batches of 500 by peers.pid");
    CHECK(statements[3].directive.empty());
}

TEST_CASE("directives parse strictly: a typo is an error, not a plain blocking statement") {
    CHECK(std::holds_alternative<PlainStep>(std::get<StepKind>(parseDirective(""))));
    CHECK(
        std::holds_alternative<RebuildStep>(std::get<StepKind>(parseDirective("online rebuild"))));
    auto batched = std::get<StepKind>(parseDirective("in batches of 5000 by peers.pid"));
    REQUIRE(std::holds_alternative<BatchedStep>(batched));
    CHECK(std::get<BatchedStep>(batched) == BatchedStep{5000, "peers", "pid"});
    for (const char* bad :
         {"online rebuilt", "in batches of 0 by peers.pid", "in batches of 5x by peers.pid",
          "in batches of 10 by peers", "in batches of 10 by peers.pid;drop",
          "in batches of 10 by `p`.pid", "in batches of 2000000 by peers.pid"}) {
        INFO(bad);
        CHECK(std::holds_alternative<DirectiveError>(parseDirective(bad)));
    }
}

TEST_CASE("an ALTER TABLE splits into its table and its clauses") {
    AlterParts parts = splitAlterTable("alter table peers\n    MODIFY uid VARBINARY(10) NOT NULL");
    CHECK(parts.table == "peers");
    CHECK(parts.clauses == "\n    MODIFY uid VARBINARY(10) NOT NULL");
    CHECK(splitAlterTable("ALTER TABLE `peers` ADD x INT").table.empty());
    CHECK(splitAlterTable("UPDATE peers SET x = 1").table.empty());
}

TEST_CASE("an account for --definer is quoted, and anything else in it refused") {
    CHECK(parseAccount("tracker@localhost") == std::optional<std::string>("'tracker'@'localhost'"));
    CHECK(parseAccount("'tracker'@'10.0.%'") == std::optional<std::string>("'tracker'@'10.0.%'"));
    CHECK(parseAccount("`a-b.c`@`h`") == std::optional<std::string>("'a-b.c'@'h'"));
    for (const char* bad : {"tracker", "@localhost", "tracker@", "tr'acker@localhost",
                            "tracker@local host", "x@y; DROP TABLE peers"}) {
        INFO(bad);
        CHECK_FALSE(parseAccount(bad));
    }
}

TEST_CASE("a dry run tells each kind of step by what the site's writers see") {
    auto shape = [](const char* text, const char* directive = "") {
        return shapeOf(SqlStatement{text, 1, directive});
    };
    StepShape rebuild =
        shape("ALTER TABLE peers MODIFY uid VARBINARY(10) NOT NULL", "online rebuild");
    CHECK(rebuild.table == "peers");
    CHECK_THAT(rebuild.effect, Catch::Contains("RENAME TABLE"));
    CHECK(rebuild.secondsPerRow > 0);
    CHECK(std::find(rebuild.privileges.begin(), rebuild.privileges.end(), "TRIGGER") !=
          rebuild.privileges.end());

    StepShape batched = shape("UPDATE peers SET rnd = 1", "in batches of 5000 by peers.pid");
    CHECK(batched.table == "peers");
    CHECK_THAT(batched.effect, Catch::Contains("one batch of 5000"));

    StepShape index = shape("ALTER TABLE peers ADD INDEX IF NOT EXISTS w (tid, rnd), LOCK=NONE");
    CHECK(index.table == "peers");
    CHECK_THAT(index.effect, Catch::Contains("online"));
    CHECK(index.privileges == std::vector<std::string>{"ALTER", "INDEX"});

    StepShape blocking = shape("ALTER TABLE peers ADD COLUMN x INT");
    CHECK_THAT(blocking.effect, Catch::Contains("BLOCKS"));

    StepShape trigger = shape(
        "CREATE OR REPLACE TRIGGER t AFTER INSERT ON peers FOR EACH ROW "
        "SET @x = 1");
    CHECK(trigger.table == "peers");
    CHECK(trigger.privileges == std::vector<std::string>{"TRIGGER"});

    StepShape table = shape(
        "CREATE TABLE IF NOT EXISTS tracker_x (a INT, FOREIGN KEY (a) "
        "REFERENCES torrents (tid))");
    CHECK(table.table == "tracker_x");
    CHECK(table.privileges == std::vector<std::string>{"CREATE", "REFERENCES"});

    CHECK_THAT(shape("SELECT 1", "in batches of x").effect, Catch::Contains("refused"));
}

TEST_CASE("every ALTER in our migrations is online or a rebuild, every directive parses") {
    for (const SqlFile& file : embeddedSqlFiles()) {
        auto split = splitSqlStatements(file.text);
        REQUIRE(std::holds_alternative<std::vector<SqlStatement>>(split));
        for (const SqlStatement& statement : std::get<std::vector<SqlStatement>>(split)) {
            INFO(file.name << " line " << statement.line);
            StepShape shape = shapeOf(statement);
            CHECK_THAT(shape.effect, !Catch::Contains("BLOCKS") && !Catch::Contains("refused"));
        }
    }
}
