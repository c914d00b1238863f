#include "service/full_scrape.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>

#include "util/log.h"

namespace tracker::service {
namespace {

constexpr std::size_t kPiece = 64 * 1024;  // bytes read, inflated or written at a time

// Deflates what it is given into a gzip stream in `file`.
class GzipFileWriter {
  public:
    explicit GzipFileWriter(std::FILE* file) : file_(file) {
        // Level 6 (zlib's default) compresses a full scrape about 3.5 times; 15 + 16 asks for
        // the gzip wrapper.
        ok_ = deflateInit2(&stream_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~GzipFileWriter() { deflateEnd(&stream_); }
    GzipFileWriter(const GzipFileWriter&) = delete;
    GzipFileWriter& operator=(const GzipFileWriter&) = delete;

    void write(std::string_view bytes) {
        plain_ += bytes.size();
        pump(bytes, Z_NO_FLUSH);
    }
    bool finish() {
        pump({}, Z_FINISH);
        return ok_ && std::fflush(file_) == 0;
    }
    std::uint64_t plainBytes() const { return plain_; }
    std::uint64_t gzipBytes() const { return gzip_; }

  private:
    void pump(std::string_view bytes, int flush) {
        if (!ok_)
            return;
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
        stream_.avail_in = static_cast<uInt>(bytes.size());
        int result = Z_OK;
        do {
            stream_.next_out = out_.data();
            stream_.avail_out = static_cast<uInt>(out_.size());
            result = deflate(&stream_, flush);
            if (result == Z_STREAM_ERROR) {
                ok_ = false;
                return;
            }
            std::size_t produced = out_.size() - stream_.avail_out;
            if (produced > 0 && std::fwrite(out_.data(), 1, produced, file_) != produced) {
                ok_ = false;
                return;
            }
            gzip_ += produced;
        } while (stream_.avail_out == 0 || (flush == Z_FINISH && result != Z_STREAM_END));
    }

    std::FILE* file_;
    z_stream stream_{};
    bool ok_ = false;
    std::array<Bytef, kPiece> out_{};
    std::uint64_t plain_ = 0;
    std::uint64_t gzip_ = 0;
};

// Reads the file from its start in pieces, with pread: several requests share one file.
template <typename Piece>
bool readPieces(std::FILE* file, std::uint64_t size, Piece piece) {
    std::string buffer(kPiece, '\0');
    int fd = fileno(file);
    for (std::uint64_t at = 0; at < size;) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, size - at));
        ssize_t got = pread(fd, buffer.data(), want, static_cast<off_t>(at));
        if (got <= 0)
            return false;
        if (!piece(std::string_view(buffer.data(), static_cast<std::size_t>(got))))
            return false;
        at += static_cast<std::uint64_t>(got);
    }
    return true;
}

}  // namespace

FullScrape::Copy::~Copy() {
    std::fclose(file_);
}

bool FullScrape::Copy::sendGzip(const BodySink& sink) const {
    return readPieces(file_, gzipBytes, sink);
}

bool FullScrape::Copy::sendPlain(const BodySink& sink) const {
    z_stream stream{};
    if (inflateInit2(&stream, 15 + 16) != Z_OK)
        return false;
    std::string out(kPiece, '\0');
    bool ok = readPieces(file_, gzipBytes, [&](std::string_view in) {
        stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        stream.avail_in = static_cast<uInt>(in.size());
        while (stream.avail_in > 0) {
            stream.next_out = reinterpret_cast<Bytef*>(out.data());
            stream.avail_out = static_cast<uInt>(out.size());
            int result = inflate(&stream, Z_NO_FLUSH);
            if (result != Z_OK && result != Z_STREAM_END)
                return false;
            std::size_t produced = out.size() - stream.avail_out;
            if (produced > 0 && !sink(std::string_view(out.data(), produced)))
                return false;
            if (result == Z_STREAM_END)
                break;
        }
        return true;
    });
    inflateEnd(&stream);
    return ok;
}

FullScrape::FullScrape(std::chrono::seconds maxAge, Builder build,
                       std::chrono::milliseconds firstWait)
    : maxAge_(maxAge), build_(std::move(build)), firstWait_(firstWait) {
    thread_ = std::thread([this] { run(); });
}

FullScrape::~FullScrape() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wanted_.notify_all();
    thread_.join();
}

std::shared_ptr<const FullScrape::Copy> FullScrape::get() {
    std::unique_lock<std::mutex> lock(mutex_);
    auto now = Clock::now();
    bool stale = !current_ || now - current_->builtAt >= maxAge_;
    // After a failed build, a second before asking again: not a build per request against a
    // database that just failed.
    if (stale && !building_ && now - failedAt_ >= std::chrono::seconds(1)) {
        requested_ = true;
        wanted_.notify_one();
    }
    if (!current_ && (requested_ || building_))
        built_.wait_for(lock, firstWait_,
                        [this] { return current_ || (!requested_ && !building_); });
    return current_;
}

FullScrape::Stats FullScrape::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

void FullScrape::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wanted_.wait(lock, [this] { return stopping_ || requested_; });
        if (stopping_)
            return;
        requested_ = false;
        building_ = true;
        lock.unlock();
        auto started = Clock::now();
        std::shared_ptr<const Copy> copy;
        try {
            copy = build();
        } catch (const std::exception& error) {
            util::logErrorThrottled("full-scrape",
                                    std::string("full scrape failed: ") + error.what());
        }
        lock.lock();
        building_ = false;
        stats_.lastBuildTook =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        if (copy) {
            current_ = std::move(copy);  // the old copy goes with its last reader
            ++stats_.builds;
            stats_.gzipBytes = current_->gzipBytes;
            stats_.plainBytes = current_->plainBytes;
        } else {
            failedAt_ = Clock::now();
            ++stats_.failedBuilds;
        }
        built_.notify_all();
    }
}

std::shared_ptr<const FullScrape::Copy> FullScrape::build() {
    // Unlinked at once (O_TMPFILE where it can): nothing is left behind, whatever happens.
    std::FILE* file = std::tmpfile();
    if (file == nullptr) {
        util::logErrorThrottled("full-scrape", std::string("no temporary file for the full "
                                                           "scrape: ") +
                                                   std::strerror(errno));
        return nullptr;
    }
    auto copy = std::make_shared<Copy>(file);
    GzipFileWriter writer(file);
    bool read = build_([&](std::string_view piece) { writer.write(piece); });
    if (!read)
        return nullptr;
    if (!writer.finish()) {
        util::logErrorThrottled("full-scrape", "writing the full scrape's temporary file failed");
        return nullptr;
    }
    copy->gzipBytes = writer.gzipBytes();
    copy->plainBytes = writer.plainBytes();
    copy->builtAt = Clock::now();
    return copy;
}

bool acceptsGzip(std::string_view header) {
    while (!header.empty()) {
        std::size_t comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
        std::size_t semicolon = item.find(';');
        std::string_view coding = item.substr(0, semicolon);
        std::string_view params =
            semicolon == std::string_view::npos ? std::string_view() : item.substr(semicolon + 1);
        auto trim = [](std::string_view text) {
            while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
                text.remove_prefix(1);
            while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
                text.remove_suffix(1);
            return text;
        };
        coding = trim(coding);
        std::string lower(coding);
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (lower != "gzip" && lower != "x-gzip" && lower != "*")
            continue;
        // q=0 (or 0.0, 0.000) refuses it.
        std::string q(trim(params));
        q.erase(std::remove_if(q.begin(), q.end(),
                               [](unsigned char c) { return std::isspace(c) != 0; }),
                q.end());
        bool refused = q.size() >= 3 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=' &&
                       q.find_first_not_of("0.", 2) == std::string::npos;
        if (!refused)
            return true;
    }
    return false;
}

}  // namespace tracker::service
