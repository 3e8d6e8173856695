// Command-line options of quckrt-loadgen. Every scenario reads the same struct; flags that
// do not apply to the chosen scenario are ignored.
#pragma once

#include <cstdint>
#include <string>

namespace quckrt::bench {

struct Options {
    std::string scenario;  // fanout | topics | idle | connect | presence | queue-drain |
                           // replay | resume-storm
    std::string host = "127.0.0.1";
    int port = 0;
    std::string path = "/socket/websocket";
    std::string jwt_secret = "bench-secret";
    int server_pid = 0;  // 0: no server CPU or memory figures

    // fanout / topics
    uint32_t subscribers = 2000;       // fanout: subscribers of the one topic
    std::string topic = "chat:bench";  // fanout topic; topics uses "<topic>-<t>"
    uint32_t topics = 10;
    uint32_t subscribers_per_topic = 100;
    uint32_t publishers = 0;       // 0: 1 for fanout, one per topic for topics
    bool members_publish = false;  // topics: every subscriber also publishes, no
                                   // separate publisher connections
    double rate = -1;              // <0: scenario default; topics: 0 = window mode
    uint32_t window = 8;           // topics: pushes in flight per publisher
    uint32_t payload_bytes = 64;   // length of the message content
    double warmup_s = 2;           // publishing before the measured window
    double drain_s = 5;            // wait at most this long for late deliveries
    double quiet_max_s = 30;       // after setup, wait at most this long for the server to
                                   // stop sending (join-storm traffic such as presence)

    // Chat with storage (docs/chat.md): create the conversation of every chat:* topic over
    // the admin HTTP API before connecting, its members being the users joined to it.
    bool create_conversations = false;
    std::string admin_token = "bench-admin";

    // queue-drain: --messages sent into one conversation (--topic, default chat:c0) by u0
    // while u1 is offline, --window sends in flight; then u1 joins user:u1 and acks every
    // backlog message:new with --ack-window acks in flight. --timeout bounds each phase.
    uint32_t messages = 20000;
    uint32_t ack_window = 64;

    // replay: u0 sends --messages (default 10000) into --topic (default chat:r0) while u1 is
    // offline; then u1 joins with {"last_seq": --last-seq} (--fetch resume) or joins fresh
    // and pages `history` {afterSeq, limit: --page} one request at a time (--fetch history).
    // --live-messages: u0 sends this many more once u1's join is answered (the seam).
    uint32_t last_seq = 0;
    std::string fetch = "resume";  // resume | history
    uint32_t page = 200;
    uint32_t live_messages = 0;
    uint32_t repeat = 1;  // catch-ups in a row (a reconnect with the same last_seq each)

    // resume-storm: --readers (1000) in --conversations (100) chat:storm-<k>, one writer
    // each. Readers join, see --history-messages per conversation live, close; writers
    // send --messages (default 100) each; then every reader reconnects with its last_seq
    // at once (--max-pending handshakes in flight). Meanwhile --other-pairs (50) pairs on
    // chat:other-<p> send at --rate (default 500) messages/s in total: their latency over
    // --baseline seconds before the storm and during it.
    uint32_t readers = 1000;
    uint32_t conversations = 100;
    uint32_t history_messages = 0;
    uint32_t other_pairs = 50;
    double baseline_s = 3;

    // idle / connect / presence
    uint32_t connections = 10000;   // idle; presence defaults to 5000
    double settle_s = 2;            // idle: wait after the last join before measuring
    bool close_after_join = false;  // connect: close each connection once joined

    // presence: N connections join --topic (default chat:presence) with presence on, then a
    // fraction of them leave; each phase must converge within --timeout.
    double leave_fraction = 0.5;
    std::string leave_mode = "leave";  // leave: phx_leave; close: WebSocket close
    double timeout_s = 120;            // per phase

    double duration_s = -1;      // <0: scenario default
    uint32_t max_pending = 200;  // handshakes in progress at once
    double heartbeat_s = 30;
    // Join payload. Presence off by default: the fan-out targets compare with servers that
    // track none; `--join-params {}` measures with chat presence on.
    std::string join_params = R"({"presence":false})";
    double poll_interval_us = 0;  // minimum time between two epoll_wait calls
    double setup_timeout_s = 30;
};

// parse_options(argc, argv, options, error): false with a message on a bad flag or value.
// Sets options.scenario to "help" for --help. Defaults that differ by scenario (presence:
// --connections 5000, --topic chat:presence, --join-params {}) apply to flags not given.
bool parse_options(int argc, char** argv, Options& options, std::string& error);

// usage(): the --help text.
const char* usage();

}  // namespace quckrt::bench
