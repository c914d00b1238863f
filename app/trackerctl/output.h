// How trackerctl shows what it did: one-line names of torrents, sizes, JSON rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin_store.h"

namespace tracker::ctl {

// Names come from .torrent files anyone can make: control bytes are not sent to the terminal.
std::string printable(const std::string& text);
// JSON text; invalid UTF-8 (a raw .torrent name) is replaced, never thrown on.
std::string dump(const nlohmann::json& value);
std::string humanSize(std::uint64_t bytes);
nlohmann::json rowJson(const admin::TorrentRow& row);
// "tid 7  3f78...01b  "name"": how a torrent is named in one-line messages.
std::string oneLine(const admin::TorrentRow& row);
std::string joined(const std::vector<std::string>& items);

}  // namespace tracker::ctl
