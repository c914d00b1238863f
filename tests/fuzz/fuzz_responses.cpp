// libFuzzer target: the response encoders (encodeAnnounce, encodeScrape, encodeFailure) and
// peer selection, checked by decoding what they write.
//
// Input: an announce query string up to the first '\n' (parsed with parseAnnounce; when it is
// refused, a request is made up from the fuzz bytes instead), then bytes that choose the
// connection's address, the swarm counts, the peer candidates, which of them are handed out
// (selectPeers or arbitrary indexes) and the scrape entries. Every body must be valid bencode
// (the strict decoder accepts it) and say exactly what was encoded.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.h"
#include "protocol/announce_request.h"
#include "protocol/bencode.h"
#include "protocol/peer_selection.h"
#include "protocol/responses.h"

using namespace tracker::protocol;

namespace {

PeerAddress fuzzAddress(FuzzedDataProvider& fdp) {
    PeerAddress address;
    address.family = fdp.ConsumeBool() ? PeerAddress::Family::V6 : PeerAddress::Family::V4;
    std::string raw = fdp.ConsumeBytesAsString(address.size());
    std::memcpy(address.bytes.data(), raw.data(), raw.size());
    return address;
}

const BValue& decodeOk(const std::string& body) {
    static BValue keep;
    auto decoded = bdecode(body);
    if (const auto* error = std::get_if<BDecodeError>(&decoded)) {
        std::fprintf(stderr, "encoder wrote invalid bencode: %s at %zu\n", error->message.c_str(),
                     error->offset);
        std::abort();
    }
    keep = std::move(std::get<BValue>(decoded));
    return keep;
}

std::int64_t intAt(const BValue& dict, std::string_view key) {
    const BValue* value = dict.find(key);
    FUZZ_CHECK(value != nullptr && value->asInt() != nullptr);
    return *value->asInt();
}

const std::string& stringAt(const BValue& dict, std::string_view key) {
    const BValue* value = dict.find(key);
    FUZZ_CHECK(value != nullptr && value->asString() != nullptr);
    return *value->asString();
}

AnnounceRequest madeUpRequest(FuzzedDataProvider& fdp) {
    AnnounceRequest request;
    request.compact = fdp.ConsumeBool();
    request.noPeerId = fdp.ConsumeBool();
    request.sentCryptoParams = fdp.ConsumeBool();
    request.supportCrypto = fdp.ConsumeBool();
    request.left = fdp.ConsumeBool() ? 0 : 1;
    request.numwant = fdp.ConsumeIntegralInRange<std::uint32_t>(0, 300);
    request.uid = fdp.ConsumeRandomLengthString(10);
    request.connectionAddress = fuzzAddress(fdp);
    request.address = request.connectionAddress;
    if (fdp.ConsumeBool())
        request.warning = fdp.ConsumeRandomLengthString(200);
    return request;
}

void checkAnnounceBody(const AnnounceRequest& request, const SwarmCounts& counts,
                       const Intervals& intervals, const std::vector<PeerCandidate>& candidates,
                       const std::vector<std::size_t>& chosen) {
    std::string body = encodeAnnounce(request, counts, intervals, candidates, chosen);
    const BValue& root = decodeOk(body);
    FUZZ_CHECK(root.asDict() != nullptr);
    FUZZ_CHECK(intAt(root, "complete") == counts.complete);
    FUZZ_CHECK(intAt(root, "incomplete") == counts.incomplete);
    FUZZ_CHECK(intAt(root, "downloaded") == counts.downloaded);
    FUZZ_CHECK(intAt(root, "interval") == intervals.interval);
    FUZZ_CHECK(intAt(root, "min interval") == intervals.minInterval);
    FUZZ_CHECK(stringAt(root, "external ip") == request.connectionAddress.raw());
    FUZZ_CHECK((root.find("warning message") != nullptr) == request.warning.has_value());
    if (request.warning)
        FUZZ_CHECK(stringAt(root, "warning message") == *request.warning);

    std::vector<std::size_t> v4;
    std::string peers6;
    for (std::size_t index : chosen) {
        const PeerCandidate& peer = candidates[index];
        if (peer.address.isV4()) {
            v4.push_back(index);
        } else {
            peers6 += peer.address.raw();
            peers6.push_back(static_cast<char>(peer.port >> 8));
            peers6.push_back(static_cast<char>(peer.port & 0xff));
        }
    }
    if (peers6.empty())
        FUZZ_CHECK(root.find("peers6") == nullptr);
    else
        FUZZ_CHECK(stringAt(root, "peers6") == peers6);

    if (request.compact) {
        const std::string& peers = stringAt(root, "peers");
        FUZZ_CHECK(peers.size() == 6 * v4.size());
        for (std::size_t i = 0; i < v4.size(); ++i) {
            const PeerCandidate& peer = candidates[v4[i]];
            FUZZ_CHECK(peers.compare(6 * i, 4, peer.address.raw()) == 0);
            auto port =
                static_cast<std::uint16_t>((static_cast<unsigned char>(peers[6 * i + 4]) << 8) |
                                           static_cast<unsigned char>(peers[6 * i + 5]));
            FUZZ_CHECK(port == peer.port);
        }
    } else {
        const BValue* peers = root.find("peers");
        FUZZ_CHECK(peers != nullptr && peers->asList() != nullptr);
        FUZZ_CHECK(peers->asList()->size() == v4.size());
        for (std::size_t i = 0; i < v4.size(); ++i) {
            const PeerCandidate& peer = candidates[v4[i]];
            const BValue& entry = (*peers->asList())[i];
            FUZZ_CHECK(stringAt(entry, "ip") == peer.address.toString());
            FUZZ_CHECK(intAt(entry, "port") == peer.port);
            if (request.noPeerId)
                FUZZ_CHECK(entry.find("peer id") == nullptr);
            else
                FUZZ_CHECK(stringAt(entry, "peer id") == peer.peerId);
        }
    }
    // crypto_flags: one byte per compact IPv4 peer, so only with compact peers.
    if (request.sentCryptoParams && request.compact) {
        const std::string& flags = stringAt(root, "crypto_flags");
        FUZZ_CHECK(flags.size() == v4.size());
        for (std::size_t i = 0; i < flags.size(); ++i)
            FUZZ_CHECK(flags[i] == (candidates[v4[i]].requiresCrypto ? '\1' : '\0'));
    } else {
        FUZZ_CHECK(root.find("crypto_flags") == nullptr);
    }
}

void checkSelection(const std::vector<PeerCandidate>& candidates, const SelectionRules& rules,
                    const std::vector<std::size_t>& chosen) {
    FUZZ_CHECK(chosen.size() <= rules.numwant);
    std::set<std::size_t> seen;
    std::size_t eligible = 0;
    for (const PeerCandidate& peer : candidates) {
        eligible += peer.uid != rules.selfUid && !(rules.selfIsSeeder && peer.seeder) &&
                    !(peer.requiresCrypto && !rules.selfCanDoCrypto);
    }
    FUZZ_CHECK(chosen.size() == std::min(eligible, rules.numwant));
    for (std::size_t index : chosen) {
        FUZZ_CHECK(index < candidates.size());
        FUZZ_CHECK(seen.insert(index).second);
        const PeerCandidate& peer = candidates[index];
        FUZZ_CHECK(peer.uid != rules.selfUid);
        FUZZ_CHECK(!(rules.selfIsSeeder && peer.seeder));
        FUZZ_CHECK(!(peer.requiresCrypto && !rules.selfCanDoCrypto));
    }
}

void checkScrapeBody(FuzzedDataProvider& fdp) {
    std::vector<ScrapeEntry> entries;
    std::set<std::string> hashes;
    std::size_t count = fdp.ConsumeIntegralInRange<std::size_t>(0, 12);
    for (std::size_t i = 0; i < count && fdp.remaining_bytes() > 0; ++i) {
        ScrapeEntry entry;
        std::string hash = fdp.ConsumeBytesAsString(20);
        hash.resize(20, '\0');
        // The store answers one row per torrent: encodeScrape expects distinct hashes.
        if (!hashes.insert(hash).second)
            continue;
        std::memcpy(entry.infoHash.data(), hash.data(), 20);
        entry.counts.complete = fdp.ConsumeIntegral<std::int64_t>();
        entry.counts.incomplete = fdp.ConsumeIntegral<std::int64_t>();
        entry.counts.downloaded = fdp.ConsumeIntegral<std::int64_t>();
        entry.name = fdp.ConsumeRandomLengthString(64);
        entries.push_back(std::move(entry));
    }
    std::int64_t interval = fdp.ConsumeIntegral<std::int64_t>();
    std::string body = encodeScrape(entries, interval);
    const BValue& root = decodeOk(body);
    if (entries.empty()) {
        FUZZ_CHECK(stringAt(root, "failure reason") == "No results were found.");
        return;
    }
    const BValue* files = root.find("files");
    FUZZ_CHECK(files != nullptr && files->asDict() != nullptr);
    FUZZ_CHECK(files->asDict()->size() == entries.size());
    for (const ScrapeEntry& entry : entries) {
        const BValue* file = files->find(view(entry.infoHash));
        FUZZ_CHECK(file != nullptr);
        FUZZ_CHECK(intAt(*file, "complete") == entry.counts.complete);
        FUZZ_CHECK(intAt(*file, "incomplete") == entry.counts.incomplete);
        FUZZ_CHECK(intAt(*file, "downloaded") == entry.counts.downloaded);
        FUZZ_CHECK(stringAt(*file, "name") == entry.name);
    }
    const BValue* flags = root.find("flags");
    FUZZ_CHECK(flags != nullptr && intAt(*flags, "min_request_interval") == interval);
}

const std::string_view kRemoteAddrs[] = {"198.51.100.7", "10.0.0.1", "2a00:1450:4001:81b::200e",
                                         "::ffff:93.184.216.34"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t newline = input.find('\n');
    std::string_view query = input.substr(0, newline);
    std::string_view rest =
        newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
    FuzzedDataProvider fdp(reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size());

    AnnouncePolicy policy;
    policy.allowIpParam = fdp.ConsumeBool();
    std::string_view remoteAddr = kRemoteAddrs[fdp.ConsumeIntegralInRange<std::size_t>(0, 3)];
    auto parsed = parseAnnounce(query, remoteAddr, policy);
    AnnounceRequest request;
    if (auto* ok = std::get_if<AnnounceRequest>(&parsed)) {
        request = std::move(*ok);
    } else {
        const Failure& failure = std::get<Failure>(parsed);
        FUZZ_CHECK(stringAt(decodeOk(encodeFailure(failure)), "failure reason") ==
                   failure.reason());
        request = madeUpRequest(fdp);
    }

    SwarmCounts counts;
    counts.complete = fdp.ConsumeIntegral<std::int64_t>();
    counts.incomplete = fdp.ConsumeIntegral<std::int64_t>();
    counts.downloaded = fdp.ConsumeIntegral<std::int64_t>();
    Intervals intervals;
    intervals.interval = fdp.ConsumeIntegral<std::int64_t>();
    intervals.minInterval = fdp.ConsumeIntegral<std::int64_t>();

    // The views of a candidate point into these strings, as they point into the store's rows.
    std::size_t count = fdp.ConsumeIntegralInRange<std::size_t>(0, 40);
    std::vector<std::string> strings;
    strings.reserve(2 * count);
    std::vector<PeerCandidate> candidates;
    for (std::size_t i = 0; i < count && fdp.remaining_bytes() > 0; ++i) {
        PeerCandidate peer;
        // Sometimes the asking peer itself, which selection must leave out.
        strings.push_back(fdp.ConsumeBool() ? request.uid : fdp.ConsumeRandomLengthString(10));
        peer.uid = strings.back();
        strings.push_back(fdp.ConsumeRandomLengthString(24));
        peer.peerId = strings.back();
        peer.address = fuzzAddress(fdp);
        peer.port = fdp.ConsumeIntegral<std::uint16_t>();
        peer.seeder = fdp.ConsumeBool();
        peer.requiresCrypto = fdp.ConsumeBool();
        candidates.push_back(peer);
    }

    std::vector<std::size_t> chosen;
    if (fdp.ConsumeBool() || candidates.empty()) {
        SelectionRules rules;
        rules.selfUid = request.uid;
        rules.selfIsSeeder = request.isSeeder();
        rules.selfCanDoCrypto = request.canDoCrypto();
        rules.numwant = request.numwant;
        std::mt19937_64 rng(fdp.ConsumeIntegral<std::uint64_t>());
        chosen = selectPeers(candidates, rules, rng);
        checkSelection(candidates, rules, chosen);
    } else {
        // Any indexes, repeats included: the encoder must not care how they were chosen.
        std::size_t picks = fdp.ConsumeIntegralInRange<std::size_t>(0, 60);
        for (std::size_t i = 0; i < picks; ++i)
            chosen.push_back(fdp.ConsumeIntegralInRange<std::size_t>(0, candidates.size() - 1));
    }
    checkAnnounceBody(request, counts, intervals, candidates, chosen);
    checkScrapeBody(fdp);
    return 0;
}
