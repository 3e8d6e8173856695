#include "options.hpp"

#include <charconv>
#include <functional>
#include <sstream>

namespace quckrt::cli {
namespace {

struct Option {
    const char* flag;     // --flag
    const char* env;      // ENV_VAR, or nullptr
    const char* meta;     // value placeholder for --help
    const char* help;
    std::function<Status(Config&, const std::string&)> apply;
};

Result<int64_t> to_int(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
    int64_t out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi)
        return invalid_argument(name + " must be an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got '" + v + "'");
    return out;
}

template <class Setter>
std::function<Status(Config&, const std::string&)> integer(const char* name, int64_t lo,
                                                           int64_t hi, Setter set) {
    return [=](Config& c, const std::string& v) -> Status {
        auto n = to_int(name, v, lo, hi);
        if (!n) return n.error();
        set(c, *n);
        return Status();
    };
}

const std::vector<Option>& options() {
    static const std::vector<Option> kOptions = {
        {"--host", "HOST", "ADDR", "address to listen on (default 127.0.0.1)",
         [](Config& c, const std::string& v) {
             c.server.host = v;
             return Status();
         }},
        {"--port", "PORT", "N", "port to listen on; 0 picks a free one (default 4000)",
         integer("port", 0, 65535, [](Config& c, int64_t n) { c.server.port = int(n); })},
        {"--jwt-secret", "JWT_SECRET", "SECRET", "HS256 secret that signs client tokens (required)",
         [](Config& c, const std::string& v) {
             c.server.jwt_secret = v;
             return Status();
         }},
        {"--loops", "QUCKRT_LOOPS", "N", "event-loop threads; 0 = one per core (default 0)",
         integer("loops", 0, 256, [](Config& c, int64_t n) { c.server.loops = int(n); })},
        {"--max-connections", "MAX_CONNECTIONS", "N",
         "connections per node before SERVER_FULL (default 10000)",
         integer("max-connections", 1, 10'000'000,
                 [](Config& c, int64_t n) { c.server.max_connections = int(n); })},
        {"--max-channels", "MAX_CHANNELS_PER_SOCKET", "N",
         "channels one connection may join (default 100)",
         integer("max-channels", 1, 100000,
                 [](Config& c, int64_t n) { c.server.max_channels_per_socket = int(n); })},
        {"--max-frame-bytes", "MAX_FRAME_BYTES", "N",
         "largest incoming message in bytes (default 1048576)",
         integer("max-frame-bytes", 64, int64_t{1} << 30,
                 [](Config& c, int64_t n) { c.server.max_frame_bytes = size_t(n); })},
        {"--max-queued-bytes", "MAX_QUEUED_BYTES", "N",
         "output buffered per connection before it is closed as too slow (default 4194304)",
         integer("max-queued-bytes", 64, int64_t{1} << 34,
                 [](Config& c, int64_t n) { c.server.max_queued_bytes = size_t(n); })},
        {"--idle-timeout-ms", "IDLE_TIMEOUT_MS", "MS",
         "close a connection that sends nothing for this long (default 60000)",
         integer("idle-timeout-ms", 1000, int64_t{1} << 40,
                 [](Config& c, int64_t n) { c.server.idle_timeout = std::chrono::milliseconds(n); })},
        {"--drain-timeout-ms", "DRAIN_TIMEOUT_MS", "MS",
         "on SIGTERM, how long clients get to take their close frames (default 5000)",
         integer("drain-timeout-ms", 0, int64_t{1} << 40,
                 [](Config& c, int64_t n) { c.server.drain_timeout = std::chrono::milliseconds(n); })},
        {"--admin-token", "ADMIN_TOKEN", "TOKEN",
         "bearer token for the HTTP API (/api/...); user JWTs may read presence",
         [](Config& c, const std::string& v) {
             c.server.admin_token = v;
             return Status();
         }},
        {"--presence-broadcast-ms", "PRESENCE_BROADCAST_MS", "MS",
         "window over which presence changes merge into one presence_diff (default 50)",
         integer("presence-broadcast-ms", 1, 60000, [](Config& c, int64_t n) {
             c.server.presence_broadcast_ms = std::chrono::milliseconds(n);
         })},
        {"--storage", "DATABASE_URL", "URL",
         "chat persistence: sqlite:PATH (sqlite::memory: for a throwaway db); empty = relay only",
         [](Config& c, const std::string& v) {
             c.server.storage = v;
             return Status();
         }},
        {"--queue-ttl-s", "QUEUE_TTL_SECONDS", "S",
         "how long store-and-forward entries wait for their recipient (default 604800 = 7 days)",
         integer("queue-ttl-s", 1, int64_t{1} << 32, [](Config& c, int64_t n) {
             c.server.queue_ttl = std::chrono::milliseconds(n * 1000);
         })},
        {"--resume-max-events", "RESUME_MAX_EVENTS", "N",
         "a chat rejoin with last_seq replays at most this many events (default 10000)",
         integer("resume-max-events", 0, int64_t{1} << 40, [](Config& c, int64_t n) {
             c.server.resume_max_events = n;
         })},
        {"--resume-max-age-s", "RESUME_MAX_AGE_SECONDS", "S",
         "a chat rejoin replays events at most this old; 0 = no age limit (default 604800)",
         integer("resume-max-age-s", 0, int64_t{1} << 32, [](Config& c, int64_t n) {
             c.server.resume_max_age = std::chrono::milliseconds(n * 1000);
         })},
        {"--replay-page", "REPLAY_PAGE", "N",
         "events per page of a resume replay (default 200, at most 500)",
         integer("replay-page", 1, 500, [](Config& c, int64_t n) {
             c.server.replay_page = static_cast<size_t>(n);
         })},
        {"--send-rate", "SEND_RATE_PER_SECOND", "N",
         "message:send per user per second, burst 3x (default 10; 0 = unlimited)",
         integer("send-rate", 0, 1'000'000, [](Config& c, int64_t n) {
             c.server.send_rate_per_second = double(n);
             c.server.send_burst = double(n) * 3;
         })},
        {"--call-ring-timeout-s", "CALL_RING_TIMEOUT_SECONDS", "S",
         "an unanswered call becomes call:missed after this (default 60)",
         integer("call-ring-timeout-s", 1, 86400, [](Config& c, int64_t n) {
             c.server.call_ring_timeout = std::chrono::milliseconds(n * 1000);
         })},
        {"--call-grace-s", "CALL_GRACE_SECONDS", "S",
         "a call party with no webrtc channel for this long ends the call (default 10)",
         integer("call-grace-s", 0, 3600, [](Config& c, int64_t n) {
             c.server.call_grace = std::chrono::milliseconds(n * 1000);
         })},
        {"--stun-server-url", "STUN_SERVER_URL", "URLS",
         "STUN URL(s), comma-separated, handed to call clients as ICE servers",
         [](Config& c, const std::string& v) {
             c.server.stun_server_url = v;
             return Status();
         }},
        {"--turn-server-url", "TURN_SERVER_URL", "URLS",
         "TURN URL(s), comma-separated, handed to call clients with the TURN credentials",
         [](Config& c, const std::string& v) {
             c.server.turn_server_url = v;
             return Status();
         }},
        {"--turn-username", "TURN_USERNAME", "NAME", "TURN username for call clients",
         [](Config& c, const std::string& v) {
             c.server.turn_username = v;
             return Status();
         }},
        {"--turn-credential", "TURN_CREDENTIAL", "SECRET",
         "TURN credential for call clients (never logged)",
         [](Config& c, const std::string& v) {
             c.server.turn_credential = v;
             return Status();
         }},
        {"--huddle-max-participants", "HUDDLE_MAX_PARTICIPANTS", "N",
         "users in one huddle; the next join is refused with \"huddle full\" (default 50)",
         integer("huddle-max-participants", 1, 100000, [](Config& c, int64_t n) {
             c.server.huddle_max_participants = int(n);
         })},
        {"--huddle-empty-timeout-s", "HUDDLE_EMPTY_TIMEOUT_SECONDS", "S",
         "a huddle nobody joins is removed this long after its creation (default 60)",
         integer("huddle-empty-timeout-s", 1, 86400, [](Config& c, int64_t n) {
             c.server.huddle_empty_timeout = std::chrono::milliseconds(n * 1000);
         })},
        {"--huddle-grace-s", "HUDDLE_GRACE_SECONDS", "S",
         "a huddle participant whose connection drops stays, reconnecting, this long "
         "(default 10; 0 = leaves at once)",
         integer("huddle-grace-s", 0, 3600, [](Config& c, int64_t n) {
             c.server.huddle_grace = std::chrono::milliseconds(n * 1000);
         })},
        {"--allowed-origins", "ALLOWED_ORIGINS", "LIST",
         "comma-separated Origin values allowed to connect; empty = any (default empty)",
         [](Config& c, const std::string& v) {
             c.server.allowed_origins.clear();
             std::stringstream ss(v);
             std::string item;
             while (std::getline(ss, item, ','))
                 if (!item.empty()) c.server.allowed_origins.push_back(item);
             return Status();
         }},
        {"--log-level", "LOG_LEVEL", "LEVEL",
         "trace, debug, info, warn, error or off (default warn)",
         [](Config& c, const std::string& v) -> Status {
             static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
             for (const char* l : kLevels)
                 if (v == l) {
                     c.log_level = v;
                     return Status();
                 }
             return invalid_argument("log-level must be one of trace, debug, info, warn, error, "
                                     "off; got '" + v + "'");
         }},
    };
    return kOptions;
}

}  // namespace

Result<Config> parse_config(const std::vector<std::string>& args,
                            const char* (*getenv_fn)(const char*)) {
    Config config;
    for (const Option& o : options()) {
        if (!o.env) continue;
        if (const char* v = getenv_fn(o.env); v && *v) {
            if (Status st = o.apply(config, v); !st.ok())
                return invalid_argument(std::string("environment ") + o.env + ": " + st.message());
        }
    }
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            config.help = true;
            continue;
        }
        std::string name = arg, value;
        bool has_value = false;
        if (auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            has_value = true;
        }
        const Option* match = nullptr;
        for (const Option& o : options())
            if (name == o.flag) match = &o;
        if (!match) return invalid_argument("unknown option '" + arg + "' (see --help)");
        if (!has_value) {
            if (i + 1 >= args.size()) return invalid_argument(name + " needs a value");
            value = args[++i];
        }
        if (Status st = match->apply(config, value); !st.ok()) return st;
    }
    return config;
}

std::string usage() {
    std::ostringstream out;
    out << "usage: quckrt-server [options]\n"
           "       quckrt-server token --sub USER [--ttl SECONDS] [--jwt-secret SECRET]\n\n"
           "Runs the quckrt realtime server: Phoenix Channels V2 over WebSocket at\n"
           "ws://HOST:PORT/socket/websocket?vsn=2.0.0, health at /health, /health/live,\n"
           "/health/ready. `token` prints a development JWT signed with JWT_SECRET.\n\n"
           "options (flag / environment variable):\n";
    for (const Option& o : options()) {
        std::string left = std::string("  ") + o.flag + " " + o.meta;
        if (o.env) left += std::string(" / ") + o.env;
        out << left;
        out << std::string(left.size() < 48 ? 48 - left.size() : 1, ' ') << o.help << "\n";
    }
    out << "  --help" << std::string(42, ' ') << "this text\n";
    return out.str();
}

}  // namespace quckrt::cli
