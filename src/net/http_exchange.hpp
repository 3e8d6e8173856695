// HttpExchange: one HTTP API request whose answer comes later (it needs the storage writer).
// The loop keeps exchanges by id; a completion posts the response back, and the loop writes
// it on the writable callback if the client is still there.
#pragma once

#include <cstdint>
#include <string>

namespace quckrt::net {

// Bodies above this are refused with 413: the API takes small JSON documents.
inline constexpr size_t kMaxApiBody = 64 * 1024;

struct HttpExchange {
    uint64_t id = 0;
    std::string method;  // "GET", "POST", "DELETE"
    std::string uri;
    std::string authorization;
    std::string body;
    bool body_too_large = false;
    bool dispatched = false;
    bool answered = false;
    unsigned status = 0;
    std::string response;
};

}  // namespace quckrt::net
