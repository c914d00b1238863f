// How the runner applies a statement of a migration, from the `-- migrate: ...` line before it:
// plainly, over a table's key in batches (each its own short transaction), or as an online
// rebuild of a table the server cannot alter in place without blocking its writers.
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace tracker::schema {

struct PlainStep {};

// `-- migrate: in batches of N by TABLE.COLUMN`: the statement runs once per range of N
// values of COLUMN (an integer key), with @batch_first and @batch_last set to the range.
// Consecutive statements with the same directive share each batch's transaction.
struct BatchedStep {
    unsigned size = 0;
    std::string table;
    std::string column;
    bool operator==(const BatchedStep& other) const {
        return size == other.size && table == other.table && column == other.column;
    }
};

// `-- migrate: online rebuild`: the statement is `ALTER TABLE name ...`; the table is copied
// into its new shape beside itself while its writers go on, then swapped in.
struct RebuildStep {};

using StepKind = std::variant<PlainStep, BatchedStep, RebuildStep>;

struct DirectiveError {
    std::string message;
};

// "" is a plain step; an unknown or malformed directive is an error (a typo must not turn an
// online step into a blocking one).
std::variant<StepKind, DirectiveError> parseDirective(std::string_view directive);

// The table an `ALTER TABLE name ...` statement alters and the rest of it after the name, or
// nullopt-like empty table when the statement is not one.
struct AlterParts {
    std::string table;
    std::string clauses;
};
AlterParts splitAlterTable(std::string_view statement);

// Plain unquoted identifiers only: what our migration files name.
bool isSimpleIdentifier(std::string_view name);

}  // namespace tracker::schema
