// The plain request and response the tracker works with, free of FastCGI: the adapter fills
// an HttpRequest from the web server's parameters and writes an HttpResponse back.
#pragma once

#include <string>
#include <string_view>

namespace tracker::service {

struct HttpRequest {
    std::string_view method;      // REQUEST_METHOD
    std::string_view path;        // SCRIPT_NAME, else DOCUMENT_URI, else REQUEST_URI's path
    std::string_view query;       // QUERY_STRING, raw and undecoded
    std::string_view remoteAddr;  // REMOTE_ADDR
};

struct HttpResponse {
    int status = 200;
    std::string contentType = "text/plain";
    std::string body;
    // Tracker answers must not be cached by proxies: the PHP sent the same headers.
    bool noCache = true;
};

}  // namespace tracker::service
