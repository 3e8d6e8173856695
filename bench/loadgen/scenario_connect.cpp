// connect: new connections at a steady rate, each doing TCP connect, the HTTP upgrade with
// a JWT and a phx_join. The figure is the time from connect() to the join reply.
//
// Tokens are signed before the clock starts so signing cost never lands in a sample.
// Starts are paced from a fixed schedule; if --max-pending setups are already in flight the
// next start waits, and that wait is reported as start lag rather than hidden.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "common.hpp"
#include "scenarios.hpp"
#include "token.hpp"

namespace quckrt::bench {
namespace {

constexpr int64_t kTickNs = 200 * kNsPerMs;

class ConnectRun final : public ClientHandler {
  public:
    explicit ConnectRun(bool close_after_join) : close_after_join_(close_after_join) {}
    void set_loop(ClientLoop* loop) { loop_ = loop; }
    void on_joined(Connection& c, int64_t now) override {
        setup_.record(now - c.started_ns);
        last_join_ns_ = now;
        if (close_after_join_) loop_->close_gracefully(c);
    }
    const Histogram& setup() const { return setup_; }
    int64_t last_join_ns() const { return last_join_ns_; }

  private:
    bool close_after_join_;
    ClientLoop* loop_ = nullptr;
    Histogram setup_;
    int64_t last_join_ns_ = 0;
};

}  // namespace

int run_connect(const Options& options) {
    const double rate = options.rate < 0 ? 1000 : options.rate;
    const double duration = options.duration_s < 0 ? 10 : options.duration_s;
    const auto n = static_cast<uint64_t>(rate * duration);
    std::string error;
    Endpoint endpoint;
    if (rate <= 0 || n == 0) {
        std::fprintf(stderr, "error: connect needs --rate > 0 and --duration > 0\n");
        return 2;
    }
    // Closed connections give their descriptor back, so only setups in flight and closes
    // waiting for the server's answer (at most the close timeout's worth) hold one then.
    const uint64_t sockets =
        options.close_after_join
            ? std::min<uint64_t>(n, options.max_pending + static_cast<uint64_t>(rate * 5) + 100)
            : n;
    if (!make_endpoint(options, endpoint, error) || !check_fd_budget(sockets, error)) {
        std::fprintf(stderr, "error: %s%s\n", error.c_str(),
                     options.close_after_join ? "" : " (or pass --close-after-join)");
        return 2;
    }
    ConnectRun handler(options.close_after_join);
    ClientLoop loop(endpoint, handler, n, loop_limits(options));
    if (!loop.ok()) {
        std::fprintf(stderr, "error: %s\n", loop.error().c_str());
        return 2;
    }
    handler.set_loop(&loop);
    std::vector<std::string> tokens(n);
    for (uint64_t i = 0; i < n; ++i) {
        loop.conn(i).topic_name = "chat:connect-" + std::to_string(i);
        if (!make_token(options.jwt_secret, user_id(i), tokens[i], error)) {
            std::fprintf(stderr, "error: cannot sign a token: %s\n", error.c_str());
            return 2;
        }
    }

    const ProcessSample before = sample_server(options);
    const int64_t start = now_ns();
    const double interval_ns = 1e9 / rate;
    const int64_t give_up = start + seconds_to_ns(duration + options.setup_timeout_s + 10);
    Histogram start_lag;
    uint64_t next = 0;
    int64_t next_tick = start + kTickNs;
    int64_t next_report = start + kNsPerSec;
    for (int64_t now = start;
         (next < n || loop.pending() > 0 || loop.closing() > 0) && now < give_up; now = now_ns()) {
        int64_t due = start + static_cast<int64_t>(static_cast<double>(next) * interval_ns);
        while (next < n && due <= now && loop.pending() < options.max_pending) {
            start_lag.record(now - due);
            loop.start(loop.conn(next), std::move(tokens[next]), now);
            ++next;
            due = start + static_cast<int64_t>(static_cast<double>(next) * interval_ns);
        }
        const int64_t wait_ns =
            next < n ? std::clamp<int64_t>(due - now, 0, 10 * kNsPerMs) : 10 * kNsPerMs;
        loop.poll(static_cast<int>((wait_ns + kNsPerMs - 1) / kNsPerMs));
        if (now >= next_tick) {
            loop.tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            std::printf("[connect] %.1f s: started %llu, joined %llu, in setup %zu, failed %zu\n",
                        static_cast<double>(now - start) / 1e9,
                        static_cast<unsigned long long>(next),
                        static_cast<unsigned long long>(handler.setup().count()), loop.pending(),
                        loop.failed());
            std::fflush(stdout);
            next_report += kNsPerSec;
        }
    }
    const ProcessSample after = sample_server(options);
    const uint64_t joined = handler.setup().count();
    const double elapsed_s =
        static_cast<double>(std::max(handler.last_join_ns(), start + 1) - start) / 1e9;

    std::printf(
        "connect: %llu connections at %.0f/s offered, %llu joined, %zu failed, %.0f joins/s "
        "achieved\n",
        static_cast<unsigned long long>(n), rate, static_cast<unsigned long long>(joined),
        loop.failed(), static_cast<double>(joined) / elapsed_s);
    print_latency("connect to join reply", handler.setup());
    print_latency("start lag behind schedule", start_lag);
    JsonObject result;
    result.text("scenario", "connect")
        .num("rate", rate)
        .num("duration_s", duration)
        .integer("connections", static_cast<int64_t>(n))
        .integer("joined", static_cast<int64_t>(joined))
        .num("achieved_per_s", static_cast<double>(joined) / elapsed_s)
        .flag("close_after_join", options.close_after_join)
        .object("connect_to_join_us", latency_json(handler.setup()))
        .object("start_lag_us", latency_json(start_lag));
    if (before.ok && after.ok) {
        const double cpu_s = static_cast<double>(after.cpu_ns - before.cpu_ns) / 1e9;
        std::printf("server: %.2f s CPU, %.1f core-us per connection, RSS %.1f MiB\n", cpu_s,
                    joined ? cpu_s * 1e6 / static_cast<double>(joined) : 0.0,
                    after.rss_kb / 1024.0);
        result.num("server_cpu_s", cpu_s)
            .num("core_us_per_connection", joined ? cpu_s * 1e6 / static_cast<double>(joined) : 0.0)
            .integer("server_rss_kb", after.rss_kb);
    }
    const bool ok = loop.failed() == 0 && joined == n;
    if (!ok) {
        std::printf("connections failed: %zu, never joined: %llu\n", loop.failed(),
                    static_cast<unsigned long long>(n - joined));
        print_failures(loop);
    }
    result.integer("connections_lost", static_cast<int64_t>(loop.failed()))
        .object("failures", failures_json(loop))
        .flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

}  // namespace quckrt::bench
