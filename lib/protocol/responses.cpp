#include "responses.h"

#include <algorithm>

#include "bencode.h"

namespace tracker::protocol {
namespace {

void appendPort(std::string& out, std::uint16_t port) {
    out.push_back(static_cast<char>(port >> 8));
    out.push_back(static_cast<char>(port & 0xff));
}

}  // namespace

std::string encodeFailure(const Failure& failure) {
    std::string out;
    BencodeWriter writer(out);
    writer.beginDict();
    writer.entry("failure reason", failure.reason());
    writer.end();
    return out;
}

std::string encodeAnnounce(const AnnounceRequest& request, const SwarmCounts& counts,
                           const Intervals& intervals, const std::vector<PeerCandidate>& candidates,
                           const std::vector<std::size_t>& chosen) {
    std::string peers4;  // compact IPv4: 6 bytes a peer
    std::string peers6;  // compact IPv6: 18 bytes a peer
    std::string cryptoFlags;
    std::size_t v4Count = 0;
    for (std::size_t index : chosen) {
        const PeerCandidate& peer = candidates[index];
        if (peer.address.isV4()) {
            ++v4Count;
            if (request.compact) {
                peers4.append(peer.address.raw());
                appendPort(peers4, peer.port);
                cryptoFlags.push_back(peer.requiresCrypto ? '\1' : '\0');
            }
        } else {
            peers6.append(peer.address.raw());
            appendPort(peers6, peer.port);
        }
    }

    std::string out;
    out.reserve(160 + peers4.size() + peers6.size() + (request.compact ? 0 : v4Count * 64));
    BencodeWriter writer(out);
    writer.beginDict();  // keys in raw byte order
    writer.entry("complete", counts.complete);
    // One byte per compact IPv4 peer: dictionary peers have no place for it.
    if (request.sentCryptoParams && request.compact)
        writer.entry("crypto_flags", cryptoFlags);
    writer.entry("downloaded", counts.downloaded);
    writer.entry("external ip", request.connectionAddress.raw());
    writer.entry("incomplete", counts.incomplete);
    writer.entry("interval", intervals.interval);
    writer.entry("min interval", intervals.minInterval);
    writer.key("peers");
    if (request.compact) {
        writer.string(peers4);
    } else {
        writer.beginList();
        for (std::size_t index : chosen) {
            const PeerCandidate& peer = candidates[index];
            if (!peer.address.isV4())
                continue;
            writer.beginDict();
            writer.entry("ip", peer.address.toString());
            if (!request.noPeerId)
                writer.entry("peer id", peer.peerId);
            writer.entry("port", peer.port);
            writer.end();
        }
        writer.end();
    }
    if (!peers6.empty())
        writer.entry("peers6", peers6);
    if (request.warning)
        writer.entry("warning message", *request.warning);
    writer.end();
    return out;
}

std::string encodeScrape(std::vector<ScrapeEntry> entries, std::int64_t minRequestInterval) {
    std::sort(entries.begin(), entries.end(), [](const ScrapeEntry& a, const ScrapeEntry& b) {
        return view(a.infoHash).compare(view(b.infoHash)) < 0;
    });
    std::string out;
    out.reserve(32 + entries.size() * 128);
    ScrapeStreamEncoder encoder(minRequestInterval);
    for (const ScrapeEntry& entry : entries)
        encoder.add(entry, out);  // a hash listed twice is answered once
    encoder.finish(out);
    return out;
}

void ScrapeStreamEncoder::add(const ScrapeEntry& entry, std::string& out) {
    BencodeWriter writer(out);
    if (entries_ == 0) {
        writer.beginDict();
        writer.key("files");
        writer.beginDict();
    } else if (view(entry.infoHash).compare(view(last_)) <= 0) {
        return;  // a dict's keys are sorted and unique
    }
    writer.key(view(entry.infoHash));
    writer.beginDict();
    writer.entry("complete", entry.counts.complete);
    writer.entry("downloaded", entry.counts.downloaded);
    writer.entry("incomplete", entry.counts.incomplete);
    writer.entry("name", entry.name);
    writer.end();
    last_ = entry.infoHash;
    ++entries_;
}

void ScrapeStreamEncoder::finish(std::string& out) {
    BencodeWriter writer(out);
    if (entries_ == 0) {
        writer.beginDict();
        writer.entry("failure reason", "No results were found.");
        writer.end();
        return;
    }
    writer.end();
    writer.key("flags");
    writer.beginDict();
    writer.entry("min_request_interval", minRequestInterval_);
    writer.end();
    writer.end();
}

}  // namespace tracker::protocol
