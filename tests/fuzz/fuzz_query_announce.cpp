// libFuzzer target: the query-string decoder, announce parsing and scrape parsing.
//
// Input: two header bytes, then the raw QUERY_STRING.
//   byte 0, bits 0-3: REMOTE_ADDR, one of kRemoteAddrs; 15 takes it from the input instead
//                     (byte 1 % 72 bytes after the header, before the query string)
//           bit 4: policy.requireKey   bit 5: policy.allowIpParam
//           bits 6-7: numwant default/max, one of kNumwant
//   byte 1: parseScrape's maxHashes (low 6 bits; 63 means no limit)
// Beyond "no crash, no sanitizer report", it checks what the parsers promise (see check*).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "protocol/announce_request.h"
#include "protocol/bencode.h"
#include "protocol/query_string.h"
#include "protocol/responses.h"
#include "protocol/scrape_request.h"

using namespace tracker::protocol;

namespace {

const std::string_view kRemoteAddrs[15] = {
    "198.51.100.7",
    "8.8.4.4",
    "10.1.2.3",
    "127.0.0.1",
    "2a00:1450:4001:81b::200e",
    "2001:db8::1",
    "::ffff:93.184.216.34",
    "::1",
    "fe80::1%eth0",
    "",
    "not an address",
    "1.2.3.4 ",
    std::string_view("1.2.3.4\0", 8),
    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd",  // 63 bytes
    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:ddddd",
};

struct NumwantPolicy {
    std::uint32_t numwantDefault;
    std::uint32_t numwantMax;
};
constexpr NumwantPolicy kNumwant[4] = {
    {50, 200},
    {0, 0},
    {200, 50},
    {std::numeric_limits<std::uint32_t>::max(), std::numeric_limits<std::uint32_t>::max()},
};

// A failure must say what is wrong without echoing a 64 kB value back at the client.
void checkFailure(const Failure& failure) {
    FUZZ_CHECK(!failure.detail.empty());
    FUZZ_CHECK(failure.detail.size() < 1024);
    // The failure body is valid bencode carrying exactly the reason.
    std::string body = encodeFailure(failure);
    auto decoded = bdecode(body);
    FUZZ_CHECK(std::holds_alternative<BValue>(decoded));
    const BValue* reason = std::get<BValue>(decoded).find("failure reason");
    FUZZ_CHECK(reason != nullptr && reason->asString() != nullptr);
    FUZZ_CHECK(*reason->asString() == failure.reason());
}

// Percent-encodes every byte: the decoder must give back exactly the bytes.
std::string encodeAll(std::string_view bytes) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (char c : bytes) {
        auto b = static_cast<unsigned char>(c);
        out.push_back('%');
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 15]);
    }
    return out;
}

void checkPercentDecode(std::string_view raw) {
    auto decoded = percentDecode(raw);
    std::size_t percents = 0;
    for (char c : raw)
        percents += c == '%';
    if (decoded) {
        FUZZ_CHECK(decoded->size() == raw.size() - 2 * percents);
        auto again = percentDecode(encodeAll(*decoded));
        FUZZ_CHECK(again && *again == *decoded);
    } else {
        FUZZ_CHECK(percents > 0);
    }
}

void checkQueryString(std::string_view raw) {
    QueryString query = QueryString::parse(raw);
    std::size_t segments = 0;  // non-empty `&`-separated segments
    std::size_t start = 0;
    while (start <= raw.size()) {
        std::size_t amp = raw.find('&', start);
        std::size_t end = amp == std::string_view::npos ? raw.size() : amp;
        segments += end > start;
        if (amp == std::string_view::npos)
            break;
        start = amp + 1;
    }
    FUZZ_CHECK(query.params().size() == segments);
    for (const QueryParam& param : query.params()) {
        FUZZ_CHECK(param.key.size() + param.value.size() <= raw.size());
        FUZZ_CHECK(query.first(param.key) != nullptr);
        auto all = query.all(param.key);
        FUZZ_CHECK(!all.empty() && all.front() == query.first(param.key));
    }
    // Every well-formed pair, written back with every byte escaped, parses to the same pairs.
    std::string rebuilt;
    std::size_t wellFormed = 0;
    for (const QueryParam& param : query.params()) {
        if (param.malformed)
            continue;
        ++wellFormed;
        rebuilt += encodeAll(param.key) + "=" + encodeAll(param.value) + "&";
    }
    QueryString again = QueryString::parse(rebuilt);
    FUZZ_CHECK(again.params().size() == wellFormed);
    std::size_t i = 0;
    for (const QueryParam& param : query.params()) {
        if (param.malformed)
            continue;
        const QueryParam& copy = again.params()[i++];
        FUZZ_CHECK(!copy.malformed && copy.key == param.key && copy.value == param.value);
    }
}

void checkAnnounce(std::string_view raw, std::string_view remoteAddr,
                   const AnnouncePolicy& policy) {
    auto result = parseAnnounce(raw, remoteAddr, policy);
    if (const auto* failure = std::get_if<Failure>(&result)) {
        checkFailure(*failure);
        return;
    }
    const AnnounceRequest& request = std::get<AnnounceRequest>(result);
    FUZZ_CHECK(request.port != 0);
    FUZZ_CHECK(request.numwant <= policy.numwantMax);
    // `peers.uid` is varbinary(10): the uid must always fit and never be empty.
    FUZZ_CHECK(!request.uid.empty() && request.uid.size() <= 10);
    auto connection = PeerAddress::parse(remoteAddr);
    FUZZ_CHECK(connection && *connection == request.connectionAddress);
    if (!policy.allowIpParam)
        FUZZ_CHECK(request.address == request.connectionAddress);
    if (!(request.address == request.connectionAddress))
        FUZZ_CHECK(request.address.isPublic());
    if (request.warning)
        FUZZ_CHECK(request.warning->size() < 1024);
    // Parsing is a pure function of its inputs.
    auto again = parseAnnounce(raw, remoteAddr, policy);
    FUZZ_CHECK(std::holds_alternative<AnnounceRequest>(again));
    FUZZ_CHECK(std::get<AnnounceRequest>(again).uid == request.uid);

    // The answer with no peers is valid bencode.
    std::string body = encodeAnnounce(request, SwarmCounts{}, Intervals{}, {}, {});
    auto decoded = bdecode(body);
    FUZZ_CHECK(std::holds_alternative<BValue>(decoded));
}

void checkScrape(std::string_view raw, std::size_t maxHashes) {
    auto result = parseScrape(raw, maxHashes);
    if (const auto* failure = std::get_if<Failure>(&result)) {
        checkFailure(*failure);
        return;
    }
    const ScrapeRequest& request = std::get<ScrapeRequest>(result);
    FUZZ_CHECK(request.infoHashes.size() <= maxHashes);
    for (std::size_t i = 0; i < request.infoHashes.size(); ++i) {
        for (std::size_t j = i + 1; j < request.infoHashes.size(); ++j)
            FUZZ_CHECK(request.infoHashes[i] != request.infoHashes[j]);
    }
    if (request.full())
        FUZZ_CHECK(QueryString::parse(raw).all("info_hash").empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    const std::uint8_t selector = data[0];
    const std::uint8_t extra = data[1];
    std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);

    std::string_view remoteAddr;
    if ((selector & 15) == 15) {
        std::size_t length = std::min<std::size_t>(extra % 72, rest.size());
        remoteAddr = rest.substr(0, length);
        rest.remove_prefix(length);
    } else {
        remoteAddr = kRemoteAddrs[selector & 15];
    }
    AnnouncePolicy policy;
    policy.requireKey = (selector & 0x10) != 0;
    policy.allowIpParam = (selector & 0x20) != 0;
    policy.numwantDefault = kNumwant[selector >> 6].numwantDefault;
    policy.numwantMax = kNumwant[selector >> 6].numwantMax;
    std::size_t maxHashes = (extra & 63) == 63 ? std::numeric_limits<std::size_t>::max()
                                               : static_cast<std::size_t>(extra & 63);

    checkPercentDecode(rest);
    checkQueryString(rest);
    checkAnnounce(rest, remoteAddr, policy);
    checkScrape(rest, maxHashes);
    return 0;
}
