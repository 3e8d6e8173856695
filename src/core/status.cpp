// Status and Result<T> support: code names and the abort path for a misused Result.

#include <quckrt/status.hpp>

#include <cstdio>
#include <cstdlib>

namespace quckrt {

std::string_view to_string(StatusCode code) {
    switch (code) {
        case StatusCode::ok: return "ok";
        case StatusCode::invalid_argument: return "invalid_argument";
        case StatusCode::not_found: return "not_found";
        case StatusCode::already_exists: return "already_exists";
        case StatusCode::permission_denied: return "permission_denied";
        case StatusCode::unauthenticated: return "unauthenticated";
        case StatusCode::resource_exhausted: return "resource_exhausted";
        case StatusCode::failed_precondition: return "failed_precondition";
        case StatusCode::unavailable: return "unavailable";
        case StatusCode::internal: return "internal";
    }
    // A value cast from an out-of-range integer: name it rather than crash in a log line.
    return "unknown";
}

std::string Status::to_string() const {
    if (ok()) return "ok";
    std::string out(quckrt::to_string(code_));
    out += ": ";
    out += message_;
    return out;
}

namespace detail {

void die_bad_result_access(const Status& status) {
    // stdio rather than iostreams: this runs on a broken invariant, keep it minimal.
    std::fprintf(stderr, "quckrt: value() called on a Result holding an error: %s\n",
                 status.to_string().c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace detail
}  // namespace quckrt
