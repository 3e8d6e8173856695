// idle: N connections, each joined to its own topic, then nothing. What it measures is the
// server's memory per idle joined connection (RSS after minus RSS before, over N) and how
// long joins took while the server was accepting them in batches.
#include <cstdio>

#include "common.hpp"
#include "scenarios.hpp"

namespace quckrt::bench {
namespace {

class IdleRun final : public ClientHandler {
  public:
    void on_joined(Connection& c, int64_t now) override { join_time_.record(now - c.started_ns); }
    const Histogram& join_time() const { return join_time_; }

  private:
    Histogram join_time_;
};

}  // namespace

int run_idle(const Options& options) {
    const uint32_t n = options.connections;
    std::string error;
    Endpoint endpoint;
    if (n == 0 || !make_endpoint(options, endpoint, error) || !check_fd_budget(n, error)) {
        std::fprintf(stderr, "error: %s\n", n == 0 ? "--connections must be > 0" : error.c_str());
        return 2;
    }
    IdleRun handler;
    ClientLoop loop(endpoint, handler, n, loop_limits(options));
    if (!loop.ok()) {
        std::fprintf(stderr, "error: %s\n", loop.error().c_str());
        return 2;
    }
    for (uint32_t i = 0; i < n; ++i) loop.conn(i).topic_name = "chat:idle-" + std::to_string(i);

    const ProcessSample before = sample_server(options);
    const int64_t begin = now_ns();
    if (!establish(loop, 0, n, options, "idle")) return 2;
    const double setup_s = static_cast<double>(now_ns() - begin) / 1e9;
    // The server may still be finishing work for the last joins (and the allocator may
    // return memory late), so memory is read after a short quiet period.
    poll_for(loop, seconds_to_ns(options.settle_s));
    const ProcessSample after = sample_server(options);
    const size_t joined_at_sample = loop.joined();
    // Holding the connections shows what idle connections cost the server over time
    // (timers, heartbeats, any per-connection scans).
    ProcessSample held = after;
    if (options.duration_s > 0) {
        poll_for(loop, seconds_to_ns(options.duration_s));
        held = sample_server(options);
    }

    std::printf("idle: %u connections, %zu joined, %zu failed, setup %.2f s (%.0f joins/s)\n", n,
                joined_at_sample, loop.failed(), setup_s,
                static_cast<double>(joined_at_sample) / setup_s);
    print_latency("join time (connect to join reply)", handler.join_time());
    JsonObject result;
    result.text("scenario", "idle")
        .integer("connections", n)
        .integer("joined", static_cast<int64_t>(joined_at_sample))
        .num("setup_s", setup_s)
        .object("join_time_us", latency_json(handler.join_time()));
    if (before.ok && after.ok) {
        const double per_conn = joined_at_sample
                                    ? static_cast<double>(after.rss_kb - before.rss_kb) * 1024.0 /
                                          static_cast<double>(joined_at_sample)
                                    : 0;
        std::printf(
            "server RSS: before %lld KiB, after %lld KiB -> %.0f bytes per joined connection "
            "(kernel socket memory not included)\n",
            static_cast<long long>(before.rss_kb), static_cast<long long>(after.rss_kb), per_conn);
        result.integer("server_rss_before_kb", before.rss_kb)
            .integer("server_rss_after_kb", after.rss_kb)
            .num("server_bytes_per_connection", per_conn)
            .num("server_setup_cpu_s", static_cast<double>(after.cpu_ns - before.cpu_ns) / 1e9);
        if (options.duration_s > 0 && held.ok) {
            const double idle_pct = 100.0 * static_cast<double>(held.cpu_ns - after.cpu_ns) /
                                    (options.duration_s * 1e9);
            std::printf("server CPU while the connections idled for %.1f s: %.1f%% of a core\n",
                        options.duration_s, idle_pct);
            result.num("server_idle_cpu_pct", idle_pct).num("hold_s", options.duration_s);
        }
    }
    const bool ok = loop.failed() == 0 && joined_at_sample == n;
    if (!ok) {
        std::printf("connections failed: %zu\n", loop.failed());
        print_failures(loop);
    }
    result.integer("connections_lost", static_cast<int64_t>(loop.failed()))
        .object("failures", failures_json(loop))
        .flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

}  // namespace quckrt::bench
