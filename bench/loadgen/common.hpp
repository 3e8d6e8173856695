// Pieces every scenario shares: the result line, endpoint and file-limit checks, batched
// connection setup and server sampling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "client.hpp"
#include "histogram.hpp"
#include "options.hpp"
#include "proc_stats.hpp"

namespace quckrt::bench {

// JsonObject: builds the JSON of the RESULT line.
class JsonObject {
  public:
    JsonObject& num(std::string_view key, double value);
    JsonObject& integer(std::string_view key, int64_t value);
    JsonObject& text(std::string_view key, std::string_view value);
    JsonObject& flag(std::string_view key, bool value);
    JsonObject& object(std::string_view key, const JsonObject& value);
    std::string str() const { return "{" + body_ + "}"; }

  private:
    void key(std::string_view k);
    void append_string(std::string_view s);
    std::string body_;
};

// latency_json(h): p50/p90/p99/p999/max/mean in microseconds plus the sample count.
JsonObject latency_json(const Histogram& h);
// print_latency(label, h): one human-readable line of the same figures.
void print_latency(std::string_view label, const Histogram& h);

// make_endpoint(options, endpoint, error): the server address; refuses anything that is not
// an IPv4 loopback address, since the bench must never load another machine.
bool make_endpoint(const Options& options, Endpoint& endpoint, std::string& error);

// check_fd_budget(connections, error): raises RLIMIT_NOFILE to its hard limit and checks
// that this many sockets (plus a reserve) fit under it.
bool check_fd_budget(uint64_t connections, std::string& error);

LoopLimits loop_limits(const Options& options);

// establish(loop, first, last, options, label): starts connections [first, last) with at
// most options.max_pending in setup at once and waits until each is joined or failed.
// Topic names must be set beforehand. Returns false when a token could not be made.
bool establish(ClientLoop& loop, size_t first, size_t last, const Options& options,
               std::string_view label);

// print_failures(loop): the failure reasons and their counts, if any.
void print_failures(const ClientLoop& loop);
JsonObject failures_json(const ClientLoop& loop);

// sample_server(options): the server's /proc figures, or ok=false without --server-pid.
ProcessSample sample_server(const Options& options);

// wait_until_quiet(loop, quiet_ns, max_ns): keeps the loop running until no frame has
// arrived for quiet_ns (or max_ns passed), so that traffic a join storm causes (presence
// diffs, say) is over before measuring. Returns the frames received meanwhile; waited_s
// says how long it took and quiet whether it ended quiet.
struct QuietResult {
    uint64_t frames = 0;
    double waited_s = 0;
    bool quiet = false;
};
QuietResult wait_until_quiet(ClientLoop& loop, int64_t quiet_ns, int64_t max_ns);

// poll_for(loop, ns): keeps the loop (heartbeats included) running for ns.
void poll_for(ClientLoop& loop, int64_t ns);

void emit_result(const JsonObject& result);

}  // namespace quckrt::bench
