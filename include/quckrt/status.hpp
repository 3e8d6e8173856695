// quckrt/status.hpp
//
// Status and Result<T>: how every fallible quckrt operation reports failure. No exception
// crosses the public API; a function that can fail returns one of these, and both must be
// used ([[nodiscard]]).
//
// The code set is small on purpose. Each code says what a caller should do next:
//   invalid_argument     the input is wrong; retrying the same call will fail again.
//   not_found            the thing does not exist (yet); retry only after creating it.
//   already_exists       the thing exists; treat as success if that was the goal.
//   permission_denied    the caller is known but not allowed; do not retry.
//   unauthenticated      credentials are missing, malformed or expired; get new ones.
//   resource_exhausted   a limit was hit (connections, rate, size); retry later or smaller.
//   failed_precondition  the system is not in a state for this; fix the state first.
//   unavailable          a transient failure (I/O, peer down); retry the call.
//   internal             a bug or broken invariant; report it.
//
// Thread affinity: plain values, safe to copy across threads.
//
// Example:
//   quckrt::Result<int> parse_port(std::string_view s);
//   auto port = parse_port(text);
//   if (!port) { std::cerr << port.error().message(); return 1; }
//   use(*port);
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace quckrt {

enum class StatusCode {
    ok = 0,
    invalid_argument,
    not_found,
    already_exists,
    permission_denied,
    unauthenticated,
    resource_exhausted,
    failed_precondition,
    unavailable,
    internal,
};

// to_string(StatusCode): the snake_case name of the code, e.g. "invalid_argument".
std::string_view to_string(StatusCode code);

// Status: a code plus a human-readable message. A default-constructed Status is ok.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    // Status::ok(): the success value.
    static Status ok_status() { return Status(); }

    bool ok() const { return code_ == StatusCode::ok; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }

    // to_string(): "code: message", or "ok".
    std::string to_string() const;

private:
    StatusCode code_ = StatusCode::ok;
    std::string message_;
};

// Shorthands for the common error statuses.
inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::not_found, std::move(m)}; }
inline Status unauthenticated(std::string m) { return {StatusCode::unauthenticated, std::move(m)}; }
inline Status permission_denied(std::string m) { return {StatusCode::permission_denied, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::resource_exhausted, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::unavailable, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::internal, std::move(m)}; }
inline Status failed_precondition(std::string m) {
    return {StatusCode::failed_precondition, std::move(m)};
}

// Result<T>: a T or a non-ok Status. The surface follows std::expected (has_value, value,
// error, operator bool, operator*, operator->) so C++23 code can switch to it mechanically.
// Calling value() on an error Result is a programming error and aborts.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {}  // NOLINT

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return check(), std::get<0>(v_); }
    const T& value() const& { return check(), std::get<0>(v_); }
    T&& value() && { return check(), std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    // error(): the failure. On a Result that holds a value it returns an ok Status.
    const Status& error() const {
        static const Status kOk;
        return has_value() ? kOk : std::get<1>(v_);
    }

private:
    void check() const;
    std::variant<T, Status> v_;
};

namespace detail {
[[noreturn]] void die_bad_result_access(const Status& status);
}

template <class T>
void Result<T>::check() const {
    if (!has_value()) detail::die_bad_result_access(std::get<1>(v_));
}

}  // namespace quckrt
