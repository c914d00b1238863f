// The account our triggers run as (their DEFINER). A trigger whose definer is dropped fails
// every write to its table, the PHP's too (error 1449): `trackerctl migrate --definer` makes
// them run as an account that stays, the serving one, so a temporary admin may be dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cppconn/connection.h>

namespace tracker::schema {

// `user@host` or `'user'@'host'` as typed, quoted for SQL ('user'@'host'); nullopt when a part
// is empty or holds anything but letters, digits and _ . - % (host wildcards).
std::optional<std::string> parseAccount(std::string_view text);

// `CREATE [OR REPLACE] TRIGGER ...` with `DEFINER = account` put in; any other statement as is.
std::string withDefiner(const std::string& statement, const std::string& account);

// Re-creates, with `account` as definer, each trigger of the database whose definer is another
// one (a database migrated before, by another account); returns their names. Each keeps its
// own sql_mode. A trigger is replaced in one statement: no write goes without it.
std::vector<std::string> redefineTriggers(sql::Connection& connection, const std::string& account);

}  // namespace tracker::schema
