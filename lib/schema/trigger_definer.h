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

// Re-creates, with `account` as definer, each trigger of the database whose definer is another
// one; returns their names. Each keeps its own sql_mode and is replaced in one statement: no
// write goes without it.
std::vector<std::string> redefineTriggers(sql::Connection& connection, const std::string& account);

struct DefinerMove {
    std::vector<std::string> triggers;  // moved to the account
    std::string error;                  // "" when it can run them; else why they came back
};

// Moves the triggers to `account`, then fires each of them once in a transaction it rolls
// back (a torrent and a peer written, changed and removed): a definer that lacks a privilege
// its triggers need fails that write, and the triggers go back to the migrating account, so
// that the site's writes fail only for those milliseconds.
DefinerMove moveTriggersTo(sql::Connection& connection, const std::string& account);

}  // namespace tracker::schema
