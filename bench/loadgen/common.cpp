#include "common.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "token.hpp"

namespace quckrt::bench {
namespace {

// Sockets the process needs besides connections: stdio, epoll, /proc reads.
constexpr uint64_t kFdReserve = 32;
constexpr int64_t kTickNs = 200 * kNsPerMs;

double us(int64_t ns) { return static_cast<double>(ns) / 1e3; }

}  // namespace

void JsonObject::key(std::string_view k) {
    if (!body_.empty()) body_ += ',';
    append_string(k);
    body_ += ':';
}

void JsonObject::append_string(std::string_view s) {
    body_ += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            body_ += '\\';
            body_ += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            body_ += ' ';
        } else {
            body_ += c;
        }
    }
    body_ += '"';
}

JsonObject& JsonObject::num(std::string_view k, double value) {
    key(k);
    if (!std::isfinite(value)) {
        body_ += "null";
        return *this;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    std::string s(buf);
    // Trailing zeros carry nothing and make the line harder to read.
    while (s.find('.') != std::string::npos && (s.back() == '0' || s.back() == '.')) {
        const bool dot = s.back() == '.';
        s.pop_back();
        if (dot) break;
    }
    body_ += s;
    return *this;
}

JsonObject& JsonObject::integer(std::string_view k, int64_t value) {
    key(k);
    body_ += std::to_string(value);
    return *this;
}

JsonObject& JsonObject::text(std::string_view k, std::string_view value) {
    key(k);
    append_string(value);
    return *this;
}

JsonObject& JsonObject::flag(std::string_view k, bool value) {
    key(k);
    body_ += value ? "true" : "false";
    return *this;
}

JsonObject& JsonObject::object(std::string_view k, const JsonObject& value) {
    key(k);
    body_ += value.str();
    return *this;
}

JsonObject latency_json(const Histogram& h) {
    JsonObject o;
    o.integer("count", static_cast<int64_t>(h.count()))
        .num("p50", us(h.percentile(50)))
        .num("p90", us(h.percentile(90)))
        .num("p99", us(h.percentile(99)))
        .num("p999", us(h.percentile(99.9)))
        .num("max", us(h.max()))
        .num("mean", h.mean() / 1e3);
    return o;
}

void print_latency(std::string_view label, const Histogram& h) {
    std::printf("%.*s (us, %llu samples): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                static_cast<int>(label.size()), label.data(),
                static_cast<unsigned long long>(h.count()), us(h.percentile(50)),
                us(h.percentile(90)), us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()));
}

bool make_endpoint(const Options& options, Endpoint& endpoint, std::string& error) {
    std::string host = options.host == "localhost" ? "127.0.0.1" : options.host;
    in_addr addr{};
    if (inet_pton(AF_INET, host.c_str(), &addr) != 1 || (ntohl(addr.s_addr) >> 24) != 127) {
        error = "--host must be an IPv4 loopback address such as 127.0.0.1 (got '" + options.host +
                "'): the bench only sends traffic to this machine";
        return false;
    }
    endpoint.address.sin_family = AF_INET;
    endpoint.address.sin_addr = addr;
    endpoint.address.sin_port = htons(static_cast<uint16_t>(options.port));
    endpoint.host_header = host + ":" + std::to_string(options.port);
    endpoint.path = options.path;
    return true;
}

bool check_fd_budget(uint64_t connections, std::string& error) {
    const int64_t limit = raise_fd_limit(error);
    if (limit < 0) return false;
    if (connections + kFdReserve > static_cast<uint64_t>(limit)) {
        error = "this run needs " + std::to_string(connections) + " sockets plus " +
                std::to_string(kFdReserve) + " spare descriptors, but the open-file limit is " +
                std::to_string(limit) + "; use at most " +
                std::to_string(limit > static_cast<int64_t>(kFdReserve)
                                   ? limit - static_cast<int64_t>(kFdReserve)
                                   : 0) +
                " connections";
        return false;
    }
    return true;
}

LoopLimits loop_limits(const Options& options) {
    LoopLimits limits;
    limits.heartbeat_interval_ns = std::max<int64_t>(seconds_to_ns(options.heartbeat_s), kNsPerSec);
    limits.setup_timeout_ns = std::max<int64_t>(seconds_to_ns(options.setup_timeout_s), kNsPerSec);
    limits.min_poll_interval_ns = static_cast<int64_t>(options.poll_interval_us * 1e3);
    limits.join_params = options.join_params;
    return limits;
}

bool establish(ClientLoop& loop, size_t first, size_t last, const Options& options,
               std::string_view label) {
    const int64_t begin = now_ns();
    // Every connection has its own setup deadline, so this is only a backstop.
    const int64_t give_up = begin + seconds_to_ns(options.setup_timeout_s) * 4 +
                            static_cast<int64_t>(last - first) * kNsPerMs;
    int64_t next_tick = begin + kTickNs;
    int64_t next_report = begin + kNsPerSec;
    size_t next = first;
    std::string token;
    std::string error;
    while ((next < last || loop.pending() > 0) && now_ns() < give_up) {
        while (next < last && loop.pending() < options.max_pending) {
            Connection& c = loop.conn(next);
            if (!make_token(options.jwt_secret, user_id(c.index), token, error)) {
                std::fprintf(stderr, "error: cannot sign a token: %s\n", error.c_str());
                return false;
            }
            loop.start(c, std::move(token), now_ns());
            ++next;
        }
        loop.poll(10);
        const int64_t now = now_ns();
        if (now >= next_tick) {
            loop.tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            std::printf("[%.*s] joined %zu of %zu, in setup %zu, failed %zu\n",
                        static_cast<int>(label.size()), label.data(), loop.joined(), last,
                        loop.pending(), loop.failed());
            std::fflush(stdout);
            next_report = now + kNsPerSec;
        }
    }
    std::printf("[%.*s] %zu joined, %zu failed in %.2f s\n", static_cast<int>(label.size()),
                label.data(), loop.joined(), loop.failed(),
                static_cast<double>(now_ns() - begin) / 1e9);
    return true;
}

void print_failures(const ClientLoop& loop) {
    for (const auto& [reason, count] : loop.failure_reasons()) {
        std::printf("  failed x%llu: %s\n", static_cast<unsigned long long>(count), reason.c_str());
    }
}

JsonObject failures_json(const ClientLoop& loop) {
    JsonObject o;
    for (const auto& [reason, count] : loop.failure_reasons()) {
        o.integer(reason, static_cast<int64_t>(count));
    }
    return o;
}

ProcessSample sample_server(const Options& options) {
    return options.server_pid > 0 ? sample_process(options.server_pid) : ProcessSample{};
}

QuietResult wait_until_quiet(ClientLoop& loop, int64_t quiet_ns, int64_t max_ns) {
    const int64_t begin = now_ns();
    const uint64_t frames_before = loop.frames();
    uint64_t last_frames = frames_before;
    int64_t last_change = begin;
    int64_t next_tick = begin + kTickNs;
    QuietResult result;
    for (int64_t now = begin; now - begin < max_ns; now = now_ns()) {
        if (loop.frames() != last_frames) {
            last_frames = loop.frames();
            last_change = now;
        } else if (now - last_change >= quiet_ns) {
            result.quiet = true;
            break;
        }
        loop.poll(10);
        if (now >= next_tick) {
            loop.tick(now);
            next_tick = now + kTickNs;
        }
    }
    result.frames = loop.frames() - frames_before;
    result.waited_s = static_cast<double>(now_ns() - begin) / 1e9;
    return result;
}

void poll_for(ClientLoop& loop, int64_t ns) {
    const int64_t end = now_ns() + ns;
    int64_t now = now_ns();
    while (now < end) {
        loop.poll(static_cast<int>(std::clamp<int64_t>((end - now) / kNsPerMs, 1, 100)));
        now = now_ns();
        loop.tick(now);
    }
}

void emit_result(const JsonObject& result) {
    std::printf("RESULT %s\n", result.str().c_str());
    std::fflush(stdout);
}

}  // namespace quckrt::bench
