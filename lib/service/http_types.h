// The plain request and response the tracker works with, free of FastCGI: the adapter fills
// an HttpRequest from the web server's parameters and writes an HttpResponse back.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace tracker::service {

struct HttpRequest {
    std::string_view method;      // REQUEST_METHOD
    std::string_view path;        // SCRIPT_NAME, else DOCUMENT_URI, else REQUEST_URI's path
    std::string_view query;       // QUERY_STRING, raw and undecoded
    std::string_view remoteAddr;  // REMOTE_ADDR
    std::string_view acceptEncoding = {};  // HTTP_ACCEPT_ENCODING
};

// Where a body goes, a piece at a time; false when the client is gone.
using BodySink = std::function<bool(std::string_view)>;

struct HttpResponse {
    int status = 200;
    std::string contentType = "text/plain";
    std::string body;
    // A body too big to hold (the full scrape): `streamBytes` bytes written by `stream` a piece
    // at a time, instead of `body`.
    std::uint64_t streamBytes = 0;
    std::function<bool(const BodySink&)> stream;
    std::string contentEncoding;  // "gzip", or none
    bool varyOnEncoding = false;  // the body depends on Accept-Encoding
    // Tracker answers must not be cached by proxies: the PHP sent the same headers.
    bool noCache = true;
};

}  // namespace tracker::service
