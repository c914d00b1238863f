#include "announce_request.h"

#include <algorithm>
#include <cstring>

#include "numbers.h"

namespace tracker::protocol {
namespace {

constexpr const char* kRequiredFields[] = {"info_hash", "peer_id",    "port",
                                           "uploaded",  "downloaded", "left"};

Failure malformedEscape(std::string_view field) {
    return makeFailure(FailureCode::Unnumbered,
                       "malformed percent-escape in " + std::string(field));
}

Failure badNumber(std::string_view field, std::string_view value) {
    return makeFailure(FailureCode::Unnumbered, "invalid " + std::string(field) + " " +
                                                    quoteValue(value) +
                                                    " (must be a non-negative whole number)");
}

// A present, well-formed value, or the failure that refuses it.
std::variant<std::string_view, Failure> wellFormed(const QueryParam& param) {
    if (param.malformed)
        return malformedEscape(param.key);
    return std::string_view(param.value);
}

bool flagSet(const QueryParam* param) {
    return param != nullptr && !param->malformed && !param->value.empty() && param->value != "0";
}

std::optional<AnnounceEvent> parseEvent(std::string_view text) {
    if (text.empty())
        return AnnounceEvent::Regular;
    if (text == "started")
        return AnnounceEvent::Started;
    if (text == "completed")
        return AnnounceEvent::Completed;
    if (text == "stopped")
        return AnnounceEvent::Stopped;
    if (text == "paused")
        return AnnounceEvent::Paused;  // BEP 21
    return std::nullopt;
}

bool isPlainKey(std::string_view key) {
    if (key.empty() || key.size() > 10)
        return false;
    return std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

// FNV-1a then a splitmix64 finaliser: stable across runs and builds, well spread. Not a
// secret: it only keeps derived uids apart and short.
std::uint64_t stableHash(std::string_view a, std::string_view b) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](std::string_view bytes) {
        for (char c : bytes) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ULL;
        }
    };
    mix(a);
    h ^= 0xff;  // separator, so that ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3ULL;
    mix(b);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

std::string derivedUid(char prefix, std::uint64_t hash) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string uid(1, prefix);
    for (int i = 0; i < 9; ++i) {
        uid.push_back(kAlphabet[hash & 63]);
        hash >>= 6;
    }
    return uid;
}

}  // namespace

std::string deriveUid(std::optional<std::string_view> key, std::string_view peerId,
                      const PeerAddress& address) {
    if (key && isPlainKey(*key))
        return std::string(*key);
    if (key && !key->empty())
        return derivedUid('!', stableHash("key", *key));
    std::string where(address.raw());
    where.push_back(address.isV4() ? '4' : '6');
    return derivedUid('~', stableHash(peerId, where));
}

std::variant<AnnounceRequest, Failure> parseAnnounce(std::string_view rawQuery,
                                                     std::string_view remoteAddr,
                                                     const AnnouncePolicy& policy) {
    const QueryString query = QueryString::parse(rawQuery);

    // #1 names every missing field at once, so that a client author fixes them in one go.
    std::string missing;
    auto noteMissing = [&missing](std::string_view field) {
        missing += missing.empty() ? "\"" : ", \"";
        missing += field;
        missing += "\"";
    };
    for (const char* field : kRequiredFields) {
        if (query.first(field) == nullptr)
            noteMissing(field);
    }
    const QueryParam* keyParam = query.first("key");
    if (policy.requireKey && (keyParam == nullptr || keyParam->value.empty())) {
        noteMissing("key");
    }
    if (!missing.empty()) {
        bool several = missing.find(',') != std::string::npos;
        return makeFailure(FailureCode::MissingField,
                           std::string(several ? "missing fields " : "missing field ") + missing);
    }

    AnnounceRequest request;

    const QueryParam& infoHash = *query.first("info_hash");
    if (infoHash.malformed)
        return malformedEscape("info_hash");
    if (infoHash.value.size() != request.infoHash.size()) {
        return makeFailure(
            FailureCode::InfoHashLength,
            "info_hash is " + std::to_string(infoHash.value.size()) + " bytes, not 20");
    }
    std::memcpy(request.infoHash.data(), infoHash.value.data(), request.infoHash.size());

    const QueryParam& peerId = *query.first("peer_id");
    if (peerId.malformed)
        return malformedEscape("peer_id");
    if (peerId.value.size() != request.peerId.size()) {
        return makeFailure(FailureCode::PeerIdLength,
                           "peer_id is " + std::to_string(peerId.value.size()) + " bytes, not 20");
    }
    std::memcpy(request.peerId.data(), peerId.value.data(), request.peerId.size());

    // The crypto extension's cryptoport, when sent, is the port to hand out (as the PHP did).
    const QueryParam* cryptoPort = query.first("cryptoport");
    const QueryParam& portParam = cryptoPort ? *cryptoPort : *query.first("port");
    if (portParam.malformed)
        return malformedEscape(portParam.key);
    auto port = parseUnsigned(portParam.value);
    if (!port || *port == 0 || *port > 65535) {
        return makeFailure(FailureCode::InvalidPort,
                           "invalid " + portParam.key + " " + quoteValue(portParam.value));
    }
    request.port = static_cast<std::uint16_t>(*port);

    struct Counter {
        const char* field;
        std::uint64_t* target;
    };
    for (Counter counter :
         {Counter{"uploaded", &request.uploaded}, Counter{"downloaded", &request.downloaded},
          Counter{"left", &request.left}}) {
        const QueryParam& param = *query.first(counter.field);
        if (param.malformed)
            return malformedEscape(counter.field);
        auto value = parseUnsigned(param.value);
        if (!value)
            return badNumber(counter.field, param.value);
        *counter.target = *value;
    }

    if (const QueryParam* event = query.first("event")) {
        auto text = wellFormed(*event);
        if (auto* failure = std::get_if<Failure>(&text))
            return *failure;
        auto parsed = parseEvent(std::get<std::string_view>(text));
        if (!parsed) {
            return makeFailure(FailureCode::Unnumbered,
                               "unknown event " + quoteValue(event->value) +
                                   " (expected started, completed, stopped, paused or none)");
        }
        request.event = *parsed;
    }

    if (const QueryParam* compact = query.first("compact")) {
        request.compact = compact->value != "0";
    }
    request.noPeerId = flagSet(query.first("no_peer_id"));

    std::uint64_t numwant = policy.numwantDefault;
    if (const QueryParam* param = query.first("numwant")) {
        if (param->malformed)
            return malformedEscape("numwant");
        auto value = parseUnsigned(param->value);
        if (!value)
            return badNumber("numwant", param->value);
        numwant = *value;
    }
    request.numwant =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(numwant, policy.numwantMax));

    const QueryParam* supportCrypto = query.first("supportcrypto");
    const QueryParam* requireCrypto = query.first("requirecrypto");
    request.supportCrypto = flagSet(supportCrypto);
    request.requireCrypto = flagSet(requireCrypto);
    request.sentCryptoParams = supportCrypto != nullptr || requireCrypto != nullptr;

    auto connection = PeerAddress::parse(remoteAddr);
    if (!connection) {
        return makeFailure(FailureCode::Unnumbered,
                           "the web server passed no usable client address (REMOTE_ADDR " +
                               quoteValue(remoteAddr) + ")");
    }
    request.connectionAddress = *connection;
    request.address = *connection;
    if (const QueryParam* ip = query.first("ip"); ip != nullptr && policy.allowIpParam) {
        auto claimed = ip->malformed ? std::nullopt : PeerAddress::parse(ip->value);
        if (claimed && claimed->isPublic()) {
            request.address = *claimed;
        } else {
            request.warning = "ip " + quoteValue(ip->value) +
                              " ignored: only a public address is honoured; using the "
                              "connection's address";
        }
    }

    std::optional<std::string_view> key;
    if (keyParam != nullptr) {
        if (keyParam->malformed)
            return malformedEscape("key");
        if (!keyParam->value.empty())
            key = keyParam->value;
    }
    // The connection's address, not a claimed `ip`: claiming a victim's address must not also
    // claim its identity.
    request.uid = deriveUid(key, view(request.peerId), request.connectionAddress);
    return request;
}

}  // namespace tracker::protocol
