#include "trackerctl/help.h"

#include <map>

namespace tracker::ctl {

const char* const kUsageText =
    "usage: trackerctl [--config FILE] [--json] COMMAND [ARGS]\n"
    "\n"
    "The BitTorrent tracker's admin tool: registers and bans torrents, lists them, shows\n"
    "totals, and migrates a PHP tracker's database. Command line only: it refuses to run as a\n"
    "web (CGI) request.\n"
    "\n"
    "commands:\n"
    "  add FILE.torrent [--name NAME]  register a torrent from its .torrent file\n"
    "  add HEX40 --name NAME           register a 40-digit hex info hash\n"
    "  ban HASH|ID                     refuse its announces (\"Tracker error #6\")\n"
    "  unban HASH|ID                   serve it again\n"
    "  remove HASH|ID                  delete it, and its peers with it\n"
    "  list [--banned] [--active] [--name TEXT] [--limit N] [--offset N]\n"
    "                                  registered torrents, by id, with seeders and leechers\n"
    "  show HASH|ID                    one torrent\n"
    "  stats                           torrents, peers, seeders, leechers, completions\n"
    "  migrate [--dry-run] [--definer U@H]\n"
    "                                  apply our schema migrations (idempotent, online)\n"
    "  grants [MIGRATOR]               the GRANTs the accounts need (prints, runs nothing)\n"
    "  help [COMMAND]                  this text, or one command's\n"
    "\n"
    "HASH is the 40-digit hex info hash, ID the torrent's `tid`.\n"
    "\n"
    "options (anywhere on the line):\n"
    "  --config FILE  the tracker's JSON config; default $TRACKER_CONFIG, else\n"
    "                 /etc/tracker/tracker.json (only its \"database\" settings are used)\n"
    "  --json         one JSON object on stdout, also on failure ({\"ok\": false, \"error\"})\n"
    "  --help, -h     help; `trackerctl COMMAND --help` for one command\n"
    "\n"
    "exit status: 0 done; 1 the operation failed (not found, bad .torrent, database\n"
    "unreachable or refusing); 2 usage error or unusable config.\n";

namespace {

const std::map<std::string, std::string> kCommandHelp = {
    {"add",
     "usage: trackerctl add FILE.torrent [--name NAME]\n"
     "       trackerctl add HEX40 --name NAME\n"
     "\n"
     "Registers a torrent, so that its announces (within replicaPullMs, 250 ms by default,\n"
     "as the workers follow the registry) and scrapes (at once) are served.\n"
     "From a .torrent file: the info hash is the SHA-1 of the file's bencoded `info`\n"
     "dictionary, the name is info's `name` (or `name.utf-8`) unless --name is given. A bad\n"
     "file (not bencode, truncated, no info dictionary) is refused and nothing changes.\n"
     "From a hash: 40 hex digits, and --name is required.\n"
     "Adding a registered torrent again is not an error: it is reported, and its name is\n"
     "replaced only when --name is given.\n"
     "\n"
     "BitTorrent v2: a hybrid (v1+v2) torrent is registered by its v1 (SHA-1) info hash;\n"
     "a pure v2 torrent is refused. This tracker serves v1 and hybrid torrents only (the\n"
     "`torrents.infohash` column holds one 20-byte hash, as in the PHP tracker).\n"
     "Names longer than 255 characters, invalid UTF-8 or characters the column's charset\n"
     "cannot hold are cut or replaced by U+FFFD, and reported.\n"},
    {"ban",
     "usage: trackerctl ban HASH|ID\n"
     "\n"
     "Bans a registered torrent: clients get \"Tracker error #6\" and scrapes no longer\n"
     "list it. Its peers and counters are kept. Scrapes see it at once; announces within\n"
     "replicaPullMs (250 ms by default: the workers follow the registry's changes; with\n"
     "the replica off, within swarmCacheMs).\n"},
    {"unban",
     "usage: trackerctl unban HASH|ID\n"
     "\n"
     "Lifts a ban: the torrent is served again, by announces within replicaPullMs.\n"},
    {"remove",
     "usage: trackerctl remove HASH|ID\n"
     "\n"
     "Deletes the torrent and its peers (peers.tid cascades). Its announces then get\n"
     "\"Tracker error #5\" (not registered) until it is added again.\n"},
    {"list",
     "usage: trackerctl list [--banned] [--active] [--name TEXT] [--limit N] [--offset N]\n"
     "\n"
     "Registered torrents in id order, with seeders, leechers and completions.\n"
     "  --banned       banned torrents only\n"
     "  --active       torrents with at least one peer only\n"
     "  --name TEXT    names containing TEXT (literally, case-insensitively)\n"
     "  --limit N      at most N torrents (default 50; 0 = all)\n"
     "  --offset N     skip the first N matches (default 0)\n"},
    {"show",
     "usage: trackerctl show HASH|ID\n"
     "\n"
     "One torrent: id, info hash, name, banned, seeders, leechers, completions, when it\n"
     "was added and last updated.\n"},
    {"stats",
     "usage: trackerctl stats\n"
     "\n"
     "Totals over the database: torrents (banned, with peers), peers (seeders, leechers)\n"
     "and completions (the sum of every torrent's `downloaded`).\n"},
    {"grants",
     "usage: trackerctl grants [MIGRATOR]\n"
     "\n"
     "Prints the GRANT statements for the configured database: the least the serving account\n"
     "(the config's user, for tracker-fcgi, tracker-cron and the torrent commands) needs,\n"
     "table by table, and what the account that runs `trackerctl migrate` needs. MIGRATOR is\n"
     "that account's user name (default tracker_migrate); both get the host 'localhost' when\n"
     "the config connects through a socket or to the loopback, else '%' (narrow it to the\n"
     "workers' hosts). Runs nothing and needs no connection: review, then run them as an\n"
     "administrator.\n"},
    {"migrate",
     "usage: trackerctl migrate [--dry-run] [--definer USER@HOST]\n"
     "\n"
     "Brings the configured database up to this version's schema: creates the PHP tracker's\n"
     "tables if missing (schema.sql), then applies each of our additive migrations that the\n"
     "`tracker_schema` table does not record yet, in order. Running it again applies nothing.\n"
     "The migrations are built into trackerctl: no repository is needed. The PHP code keeps\n"
     "working on a migrated database, and keeps writing while it migrates: big tables are\n"
     "changed online, in short batches, or rebuilt beside themselves and swapped in.\n"
     "\n"
     "  --dry-run          change nothing: say what each step would do to which table, how\n"
     "                     long it is expected to take at the table's size, what the site's\n"
     "                     writers would wait for, and the privileges it needs\n"
     "  --definer U@H      once migrated, move every trigger to run as this account: the\n"
     "                     serving one, with its GRANTs given, so that the migrating one may\n"
     "                     be dropped; checked at once with writes it rolls back (the\n"
     "                     triggers come back if it cannot run them); needs SET USER\n"},
};

}  // namespace

std::string commandHelp(const std::string& command) {
    auto help = kCommandHelp.find(command);
    return help == kCommandHelp.end() ? std::string() : help->second;
}

}  // namespace tracker::ctl
