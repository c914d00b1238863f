#include "trackerctl/output.h"

#include <cstdio>

#include "torrent/info_hash_hex.h"

namespace tracker::ctl {

using nlohmann::json;

std::string printable(const std::string& text) {
    std::string out;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
    }
    return out;
}

std::string dump(const json& value) {
    return value.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string humanSize(std::uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 5) {
        value /= 1024;
        ++unit;
    }
    char text[64];
    if (unit == 0)
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

json rowJson(const admin::TorrentRow& row) {
    return json{{"tid", row.tid},
                {"infoHash", tracker::torrent::toHex(row.infoHash)},
                {"name", row.name},
                {"banned", row.banned},
                {"seeders", row.seeders},
                {"leechers", row.leechers},
                {"completed", row.downloaded},
                {"added", row.added},
                {"updated", row.updated}};
}

std::string oneLine(const admin::TorrentRow& row) {
    return "tid " + std::to_string(row.tid) + "  " + tracker::torrent::toHex(row.infoHash) +
           "  \"" + printable(row.name) + "\"";
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

}  // namespace tracker::ctl
