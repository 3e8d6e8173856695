#include "options.hpp"

#include <charconv>
#include <functional>
#include <map>
#include <set>
#include <string_view>

namespace quckrt::bench {
namespace {

bool to_uint(std::string_view s, uint32_t& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool to_int(std::string_view s, int& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool to_double(std::string_view s, double& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && out >= 0;
}

using Setter = std::function<bool(std::string_view)>;

std::map<std::string, Setter, std::less<>> setters(Options& o) {
    auto str = [](std::string& field) {
        return [&field](std::string_view v) {
            field = v;
            return !v.empty();
        };
    };
    auto u32 = [](uint32_t& field) {
        return [&field](std::string_view v) { return to_uint(v, field); };
    };
    auto dbl = [](double& field) {
        return [&field](std::string_view v) { return to_double(v, field); };
    };
    return {
        {"scenario", str(o.scenario)},
        {"host", str(o.host)},
        {"port",
         [&o](std::string_view v) { return to_int(v, o.port) && o.port > 0 && o.port < 65536; }},
        {"path", str(o.path)},
        {"jwt-secret", str(o.jwt_secret)},
        {"server-pid",
         [&o](std::string_view v) { return to_int(v, o.server_pid) && o.server_pid > 0; }},
        {"subscribers", u32(o.subscribers)},
        {"topic", str(o.topic)},
        {"topics", u32(o.topics)},
        {"subscribers-per-topic", u32(o.subscribers_per_topic)},
        {"publishers", u32(o.publishers)},
        {"rate", dbl(o.rate)},
        {"window", u32(o.window)},
        {"payload-bytes", u32(o.payload_bytes)},
        {"warmup", dbl(o.warmup_s)},
        {"drain", dbl(o.drain_s)},
        {"quiet-max", dbl(o.quiet_max_s)},
        {"connections", u32(o.connections)},
        {"admin-token", str(o.admin_token)},
        {"messages", u32(o.messages)},
        {"ack-window", u32(o.ack_window)},
        {"last-seq", u32(o.last_seq)},
        {"fetch",
         [&o](std::string_view v) {
             o.fetch = v;
             return v == "resume" || v == "history";
         }},
        {"page", [&o](std::string_view v) { return to_uint(v, o.page) && o.page > 0; }},
        {"live-messages", u32(o.live_messages)},
        {"repeat", [&o](std::string_view v) { return to_uint(v, o.repeat) && o.repeat > 0; }},
        {"readers", u32(o.readers)},
        {"conversations", u32(o.conversations)},
        {"history-messages", u32(o.history_messages)},
        {"other-pairs", u32(o.other_pairs)},
        {"baseline", dbl(o.baseline_s)},
        {"settle", dbl(o.settle_s)},
        {"leave-fraction",
         [&o](std::string_view v) {
             return to_double(v, o.leave_fraction) && o.leave_fraction <= 1;
         }},
        {"leave-mode",
         [&o](std::string_view v) {
             o.leave_mode = v;
             return v == "leave" || v == "close";
         }},
        {"timeout",
         [&o](std::string_view v) { return to_double(v, o.timeout_s) && o.timeout_s > 0; }},
        {"duration", dbl(o.duration_s)},
        {"max-pending", u32(o.max_pending)},
        {"heartbeat", dbl(o.heartbeat_s)},
        {"join-params", str(o.join_params)},
        {"poll-interval-us", dbl(o.poll_interval_us)},
        {"setup-timeout", dbl(o.setup_timeout_s)},
    };
}

}  // namespace

bool parse_options(int argc, char** argv, Options& options, std::string& error) {
    auto table = setters(options);
    std::set<std::string, std::less<>> given;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            options.scenario = "help";
            return true;
        }
        if (arg == "--close-after-join" || arg == "--members-publish" ||
            arg == "--create-conversations") {
            (arg == "--members-publish"    ? options.members_publish
             : arg == "--close-after-join" ? options.close_after_join
                                           : options.create_conversations) = true;
            continue;
        }
        if (arg.substr(0, 2) != "--") {
            error = "unexpected argument '" + std::string(arg) + "'";
            return false;
        }
        arg.remove_prefix(2);
        std::string_view value;
        const size_t eq = arg.find('=');
        if (eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            error = "--" + std::string(arg) + " needs a value";
            return false;
        }
        const auto it = table.find(arg);
        if (it == table.end()) {
            error = "unknown flag --" + std::string(arg) + " (see --help)";
            return false;
        }
        if (!it->second(value)) {
            error = "bad value '" + std::string(value) + "' for --" + std::string(arg);
            return false;
        }
        given.emplace(arg);
    }
    if (options.scenario.empty()) {
        error =
            "--scenario is required (fanout, topics, idle, connect, presence, queue-drain, "
            "replay or resume-storm)";
        return false;
    }
    if (options.port == 0) {
        error = "--port is required";
        return false;
    }
    if (options.max_pending == 0) options.max_pending = 1;
    if (options.scenario == "presence") {
        if (!given.contains("connections")) options.connections = 5000;
        if (!given.contains("topic")) options.topic = "chat:presence";
        if (!given.contains("join-params")) options.join_params = "{}";  // presence on
    }
    if (options.scenario == "queue-drain") {
        if (!given.contains("topic")) options.topic = "chat:c0";
        if (!given.contains("timeout")) options.timeout_s = 300;
    }
    if (options.scenario == "replay") {
        if (!given.contains("topic")) options.topic = "chat:r0";
        if (!given.contains("messages")) options.messages = 10000;
        if (!given.contains("timeout")) options.timeout_s = 300;
    }
    if (options.scenario == "resume-storm") {
        if (!given.contains("messages")) options.messages = 100;
        if (!given.contains("rate")) options.rate = 500;
        if (!given.contains("timeout")) options.timeout_s = 120;
    }
    if (options.ack_window == 0) options.ack_window = 1;
    return true;
}

const char* usage() {
    return R"(quckrt-loadgen: load generator for a Phoenix Channels V2 server (quckrt-server)

usage: quckrt-loadgen --scenario NAME --port PORT [flags]

common:
  --host 127.0.0.1        loopback only
  --port PORT             server port (required)
  --path /socket/websocket
  --jwt-secret SECRET     HS256 secret shared with the server (default bench-secret)
  --server-pid PID        read the server's CPU time and RSS from /proc
  --max-pending 200       handshakes in progress at once (protects the listen backlog)
  --heartbeat 30          seconds between heartbeats per connection
  --join-params JSON      phx_join payload (default {"presence":false}: no presence;
                          {} for the presence scenario)
  --setup-timeout 30      seconds allowed for connect + upgrade + join
  --create-conversations  before connecting, create the conversation of every chat:* topic
                          (id: the topic without "chat:", kind group, members: the users
                          that join it) with POST /api/conversations; needs a server with
                          --storage and --admin-token (201 and 409 both count as done)
  --admin-token bench-admin  the server's admin token

--scenario fanout         N subscribers on one topic, P publishers at R publishes/s in total
  --subscribers 2000 --publishers 1 --rate 200 --duration 10 --warmup 2 --drain 5
  --payload-bytes 64 --topic chat:bench
  --quiet-max 30          after the joins, wait up to this long until the server has sent
                          nothing for 0.5 s (join-storm traffic such as presence) first

--scenario topics         T topics x K subscribers, publishers keep W pushes in flight
  --topics 10 --subscribers-per-topic 100 --publishers T --window 8 --duration 10
  --rate R                optional: publish at R/s in total instead of the window
  --members-publish       every subscriber also publishes (chat conversations); its own
                          message:new then counts as a delivery. Example, 5000 two-member
                          conversations at 20k messages/s: --topics 5000
                          --subscribers-per-topic 2 --members-publish --rate 20000

--scenario idle           N connections, each joined to its own topic chat:idle-<i>
  --connections 10000 --settle 2 --duration 0 (extra hold time)

--scenario connect        R new connections (connect + upgrade + JWT + join) per second
  --rate 1000 --duration 10 [--close-after-join]

--scenario presence       join storm, then leave storm, on one topic with presence on
  --connections 5000      users u0..u<N-1>, each joins --topic (default chat:presence)
                          with --join-params (default {}); phase 1 ends when every client's
                          view (presence_state + presence_diff, merged by phx_ref as
                          phoenix.js does) holds all N users
  --leave-fraction 0.5    phase 2: this share of the clients leave at once; it ends when
                          every remaining client's view holds exactly the remaining users
  --leave-mode leave      leave: phx_leave (the socket stays open); close: close the socket
  --timeout 120           seconds each phase may take before the run fails
  --quiet-max 30          between the phases, wait up to this long for 0.5 s of silence

--scenario queue-drain    store-and-forward backlog drain (needs storage)
  --messages 20000        u0 sends this many message:send into --topic (default chat:c0,
                          members u0 and u1) with --window (8) in flight while u1 is offline
  --ack-window 64         then u1 joins user:u1; the time until every message:new of the
                          backlog arrived (seq checked increasing, ids unique) and until
                          every message:ack (this many in flight) was answered
  --timeout 300           seconds each phase may take
  Use --create-conversations (or create the conversation beforehand).

--scenario replay         resume replay of a backlog to one client (needs storage)
  --messages 10000        u0 sends this many message:send into --topic (default chat:r0,
                          members u0 and u1) with --window (8) in flight while u1 is offline
  --fetch resume          then u1 joins with {"last_seq": --last-seq (0), "presence":false}
                          and receives the replay; every seq from_seq..to_seq must arrive
                          once, in order. --fetch history: u1 joins fresh and pages
                          history {afterSeq, limit: --page (200)}, one request at a time
  --live-messages 0       u0 sends this many more once u1's join is answered; they must
                          follow the replay in order (the seam)
  --repeat 1              catch-ups in a row, each on a new connection with the same
                          last_seq (times are medians; server CPU is over all of them)
  --timeout 300           seconds each phase may take

--scenario resume-storm   reconnect storm (needs storage)
  --readers 1000          readers u0.. in --conversations (100) chat:storm-<k>, each with
                          one writer; readers join, see --history-messages (0) per
                          conversation live, record their last seq and close
  --messages 100          each writer then sends this many; then all readers reconnect and
                          join with their last_seq at once (--max-pending in setup)
  --other-pairs 50        meanwhile pairs on chat:other-<p> (not resuming) send at --rate
                          (500) message:send/s in total: push->reply and push->message:new
                          latency over --baseline (3) s before the storm and during it
  --timeout 120           seconds the storm may take

Output: human-readable lines, then one line "RESULT {json}". Exit status 0 only when every
connection was set up and none was lost.
)";
}

}  // namespace quckrt::bench
