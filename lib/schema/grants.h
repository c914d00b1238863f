// The privileges our programs need on a tracker database, as GRANT statements an admin runs:
// one account for what serves and cleans (tracker-fcgi, tracker-cron, trackerctl's torrent
// commands), one for `trackerctl migrate`. Text to print, never run by us.
#pragma once

#include <string>

namespace tracker::schema {

// `runtime` and `migrator` are accounts as MariaDB writes them ('user'@'host'), already
// quoted; `database` a schema name (quoted here).
std::string grantStatements(const std::string& database, const std::string& runtime,
                            const std::string& migrator);

// 'user'@'host', quotes and backslashes escaped.
std::string accountName(const std::string& user, const std::string& host);

}  // namespace tracker::schema
