#include <quckrt/server.hpp>

#include <spdlog/spdlog.h>

#include <libwebsockets.h>

#include <mutex>
#include <string_view>
#include <thread>

#include <quckrt/backends/sqlite.hpp>

#include "channels/chat_channel.hpp"
#include "calls/call_channel.hpp"
#include "huddles/huddle_channel.hpp"
#include "chat/chat_service.hpp"
#include "net/loop.hpp"
#include "wire/phoenix_v2.hpp"
#include "net/server_impl.hpp"

namespace quckrt {
namespace {

// lws logs go through spdlog at one level lower than lws rates them: most lws "errors" are
// one peer's problem (a bad handshake), not the server's.
void emit_lws_log(int level, const char* line) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    // lws 4.1.6 logs every readbuf adoption (each accepted connection) at error level.
    if (text.find("adopt_socket_readbuf") != std::string_view::npos) return;
    if (level & LLL_ERR) {
        spdlog::warn("event=lws message=\"{}\"", text);
    } else {
        spdlog::info("event=lws message=\"{}\"", text);
    }
}

void route_lws_logs() {
    static std::once_flag once;
    std::call_once(once, [] { lws_set_log_level(LLL_ERR | LLL_WARN, emit_lws_log); });
}

}  // namespace

Server::Impl::Impl(ServerOptions options, std::shared_ptr<Authenticator> auth)
    : options_(std::move(options)),
      auth_(std::move(auth)),
      presence_(options_.presence_announce_max_keys) {}

Server::Impl::~Impl() {
    stop();
    wait();
    // Loops are gone; the writer finishes what was queued (completions find no loop).
    chat_.reset();
}

Status Server::Impl::start() {
    if (started_.exchange(true)) return failed_precondition("server already started");
    if (options_.builtin_chat && !options_.storage.empty()) {
        constexpr std::string_view kSqlite = "sqlite:";
        if (!options_.storage.starts_with(kSqlite))
            return invalid_argument("storage must be \"sqlite:PATH\", got \"" + options_.storage + "\"");
        auto storage = make_sqlite_storage(options_.storage.substr(kSqlite.size()));
        if (!storage) return storage.error();
        chat::ChatOptions chat_options{.queue_ttl = options_.queue_ttl,
                                       .send_rate_per_second = options_.send_rate_per_second,
                                       .send_burst = options_.send_burst,
                                       .resume = {.max_events = options_.resume_max_events,
                                                  .max_age_ms = options_.resume_max_age.count()},
                                       .replay_page = options_.replay_page};
        chat_ = std::make_unique<chat::ChatService>(
            std::move(*storage), chat_options,
            [this](const std::string& topic, std::string_view event, const Json& payload) {
                publish(nullptr, topic,
                        wire::make_text_frame(wire::encode_broadcast(topic, event, payload)),
                        nullptr);
            });
        router_.add("chat:*", chat::make_chat_channel_factory(*chat_));
        router_.add("user:*", chat::make_user_channel_factory(*chat_));
    } else if (options_.builtin_chat) {
        router_.add("chat:*", channels::make_chat_channel_factory());
    }
    if (options_.builtin_calls) {
        storage::StorageQueue* history = chat_ ? &chat_->queue() : nullptr;
        calls_ = calls::make_server_calls(
            options_,
            [this](const std::string& topic, std::string_view event, const Json& payload) {
                publish(nullptr, topic,
                        wire::make_text_frame(wire::encode_broadcast(topic, event, payload)),
                        nullptr);
            },
            history);
        router_.add("webrtc:*", calls::make_call_channel_factory(*calls_, history));
    }
    if (options_.builtin_huddles) {
        storage::StorageQueue* membership = chat_ ? &chat_->queue() : nullptr;
        huddles_ = huddles::make_server_huddles(
            options_, [this](const std::string& topic, std::string_view event, const Json& payload) {
                publish(nullptr, topic,
                        wire::make_text_frame(wire::encode_broadcast(topic, event, payload)),
                        nullptr);
            });
        router_.add("huddle:lobby", huddles::make_lobby_channel_factory(*huddles_, membership));
        router_.add("huddle:*", huddles::make_huddle_channel_factory(*huddles_, membership));
        // Invites go to user:{id}; the ChatService owns that topic when there is storage.
        if (!chat_) router_.add("user:*", huddles::make_invite_inbox_factory());
    }

    int loops = options_.loops > 0 ? options_.loops
                                   : static_cast<int>(std::thread::hardware_concurrency());
    if (loops < 1) loops = 1;
    int port = options_.port;
    for (int i = 0; i < loops; ++i) {
        auto loop = std::make_unique<net::Loop>(*this, i);
        {
            std::lock_guard lock(mu_);
            ++loops_running_;
        }
        // Loop 0 binds first (resolving port 0); the others share that exact port.
        auto bound = loop->start(port);
        if (!bound) {
            {
                std::lock_guard lock(mu_);
                --loops_running_;
            }
            loop->join();
            stop();
            wait();
            return bound.error();
        }
        port = *bound;
        loops_.push_back(std::move(loop));
    }
    port_ = port;
    spdlog::info("event=listening host={} port={} loops={}", options_.host, port, loops);
    return Status();
}

void Server::Impl::publish(net::Loop* origin, std::string_view topic,
                           const wire::FramePtr& frame, const core::Subscription* except) {
    for (auto& loop : loops_) {
        if (loop.get() == origin) {
            loop->hub().fanout(topic, frame, except);
            continue;
        }
        net::Loop* target = loop.get();
        target->post([target, topic = std::string(topic), frame] {
            target->hub().fanout(topic, frame, nullptr);
        });
    }
}

void Server::Impl::flush_presence(net::Loop* origin) {
    for (auto& out : presence_.take_diffs()) {
        const auto& d = out.diff;
        Json payload = Json::object({{"joins", d.joins}, {"leaves", d.leaves}});
        publish(origin, d.topic,
                wire::make_text_frame(wire::encode_broadcast(d.topic, "presence_diff", payload)),
                nullptr);
        if (!out.announce) continue;
        for (const auto& user : d.came_online)
            publish(origin, d.topic,
                    wire::make_text_frame(wire::encode_broadcast(
                        d.topic, "user:online", Json::object({{"userId", user}}))),
                    nullptr);
        for (const auto& user : d.went_offline)
            publish(origin, d.topic,
                    wire::make_text_frame(wire::encode_broadcast(
                        d.topic, "user:offline", Json::object({{"userId", user}}))),
                    nullptr);
    }
}

void Server::Impl::tick(int64_t now_ms) {
    // Expired store-and-forward entries: once a minute, bounded work each time.
    constexpr int64_t kPurgeEveryMs = 60'000;
    if (chat_) chat_->tick(chat::unix_ms());
    if (calls_) calls_->expire();  // ring timeouts and disconnect grace (~1 s granularity)
    if (huddles_) huddles_->expire();  // reconnect graces and huddles nobody joined in time
    if (chat_ && now_ms - last_purge_ms_ >= kPurgeEveryMs) {
        last_purge_ms_ = now_ms;
        chat_->purge(chat::unix_ms());
    }
}

void Server::Impl::report(const Status& status) const {
    spdlog::error("event=error code={} message=\"{}\"", to_string(status.code()), status.message());
    if (options_.on_error) options_.on_error(status);
}

void Server::Impl::stop() {
    if (draining_.exchange(true)) return;
    for (auto& loop : loops_) loop->begin_drain();
}

void Server::Impl::loop_exited() {
    std::lock_guard lock(mu_);
    --loops_running_;
    cv_.notify_all();
}

void Server::Impl::wait() {
    {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return loops_running_ == 0; });
        if (joined_) return;
        joined_ = true;
    }
    for (auto& loop : loops_) loop->join();
}

// ---- Server -------------------------------------------------------------------------------

Server::Server(Key, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
    if (options.port < 0 || options.port > 65535) return invalid_argument("port out of range");
    if (options.max_connections < 1) return invalid_argument("max_connections must be >= 1");
    if (options.max_channels_per_socket < 1)
        return invalid_argument("max_channels_per_socket must be >= 1");
    if (options.max_frame_bytes < 64) return invalid_argument("max_frame_bytes must be >= 64");
    if (options.rx_buffer_bytes < 128) return invalid_argument("rx_buffer_bytes must be >= 128");
    if (options.max_queued_bytes < options.max_frame_bytes)
        return invalid_argument("max_queued_bytes must be >= max_frame_bytes");
    if (options.idle_timeout.count() < 1000)
        return invalid_argument("idle_timeout must be at least 1 s");
    if (options.presence_broadcast_ms.count() < 1)
        return invalid_argument("presence_broadcast_ms must be >= 1");
    if (options.resume_max_events < 0) return invalid_argument("resume_max_events must be >= 0");
    if (options.resume_max_age.count() < 0) return invalid_argument("resume_max_age must be >= 0");
    if (options.replay_page < 1 || options.replay_page > kMaxEventsLimit)
        return invalid_argument("replay_page must be in 1.." + std::to_string(kMaxEventsLimit));
    if (options.call_ring_timeout.count() < 1)
        return invalid_argument("call_ring_timeout must be >= 1 ms");
    if (options.call_grace.count() < 0) return invalid_argument("call_grace must be >= 0");
    if (options.huddle_max_participants < 1)
        return invalid_argument("huddle_max_participants must be >= 1");
    if (options.huddle_empty_timeout.count() < 1)
        return invalid_argument("huddle_empty_timeout must be >= 1 ms");
    if (options.huddle_grace.count() < 0) return invalid_argument("huddle_grace must be >= 0");
    if (options.socket_path.empty() || options.socket_path.front() != '/')
        return invalid_argument("socket_path must start with '/'");
    std::shared_ptr<Authenticator> auth = options.authenticator;
    if (!auth) {
        if (options.jwt_secret.empty())
            return invalid_argument("a JWT secret (or a custom authenticator) is required");
        auto jwt_auth = make_jwt_authenticator({.hs256_secret = options.jwt_secret});
        if (!jwt_auth) return jwt_auth.error();
        auth = *jwt_auth;
    }
    route_lws_logs();
    auto impl = std::make_unique<Impl>(std::move(options), std::move(auth));
    return std::make_unique<Server>(Key(), std::move(impl));
}

void Server::channel(std::string pattern, ChannelFactory factory) {
    impl_->router().add(std::move(pattern), std::move(factory));
}

Status Server::start() { return impl_->start(); }
int Server::port() const { return impl_->port(); }
int Server::connection_count() const { return impl_->connections().load(); }
const Presence& Server::presence() const { return impl_->presence(); }
ChatAdmin* Server::chat() { return impl_->chat(); }
void Server::stop() { impl_->stop(); }
void Server::wait() { impl_->wait(); }

void Server::broadcast(std::string_view topic, std::string_view event, const Json& payload) {
    if (!payload.is_object()) {
        impl_->report(invalid_argument("broadcast payload must be a JSON object; dropped"));
        return;
    }
    auto frame = wire::make_text_frame(wire::encode_broadcast(topic, event, payload));
    impl_->publish(nullptr, topic, frame, nullptr);
}

}  // namespace quckrt
