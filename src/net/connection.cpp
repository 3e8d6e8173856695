#include "net/connection.hpp"

#include <spdlog/spdlog.h>

#include "net/channel_instance.hpp"
#include "net/loop.hpp"
#include "net/server_impl.hpp"
#include "net/ws_framing.hpp"

namespace quckrt::net {
namespace {

// A writable callback sends at most this much; the rest waits for the next one, so one
// connection with a deep queue cannot monopolize the loop.
constexpr size_t kMaxWriteBatch = 256 * 1024;

// Queued output at or below this (after a drain) keeps its capacity; above it the queue's
// storage is released so a burst does not pin memory on an idle connection.
constexpr size_t kKeepQueueCapacity = 16;

// Messages a connection may send while one of its joins is still being decided.
constexpr size_t kMaxHeldFrames = 1000;

}  // namespace

Connection::Connection(Loop& loop, lws* wsi, uint64_t id, Claims claims, ConnectInfo info)
    : loop_(loop),
      wsi_(wsi),
      id_(id),
      claims_(std::move(claims)),
      info_(std::move(info)),
      last_rx_ms_(now_ms()) {}

Connection::~Connection() = default;

void Connection::deliver(const wire::FramePtr& frame) {
    if (close_) return;  // closing: nothing more goes out but what is queued
    const auto& opts = loop_.server().options();
    if (out_bytes_ + frame->bytes.size() > opts.max_queued_bytes) {
        // A consumer this far behind is not coming back; drop its backlog rather than grow.
        spdlog::warn("event=slow_consumer conn={} user={} queued_bytes={}", id_, claims_.user_id,
                     out_bytes_);
        out_.clear();
        out_head_ = 0;
        out_bytes_ = 0;
        close(CloseCode::try_again_later, "slow consumer");
        return;
    }
    out_bytes_ += frame->bytes.size();
    out_.push_back(frame);
    request_write();
}

void Connection::send(std::string bytes) { deliver(wire::make_text_frame(std::move(bytes))); }

void Connection::request_write() {
    // Written at the end of this loop turn (Loop::flush_pending -> flush()), corked with
    // whatever else this turn queues. Not lws_callback_on_writable: on libuv every
    // POLLOUT on/off is a uv_poll_start, i.e. an epoll_ctl DEL plus ADD, and toggling it
    // per delivery cost ~20% of server CPU (docs/benchmarks.md).
    if (write_requested_ || flush_queued_) return;
    flush_queued_ = true;
    loop_.queue_flush(id_);
}

void Connection::request_writable() {
    if (write_requested_) return;
    write_requested_ = true;
    lws_callback_on_writable(wsi_);
}

void Connection::flush() {
    flush_queued_ = false;
    if (write_requested_ || failed_) return;  // on_writable comes / lws owns the close
    // Output lws still holds goes first; it calls on_writable once the socket takes more.
    if (lws_partial_buffered(wsi_)) return request_writable();
    if (out_head_ < out_.size()) {
        if (write_batch() < 0) {
            // The socket is dead; outside a callback lws closes it from its timer.
            lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            return;
        }
        if (out_head_ < out_.size() || (close_ && lws_partial_buffered(wsi_)))
            return request_writable();
    }
    if (close_ && out_head_ == out_.size()) fail(close_->first, close_->second);
}

void Connection::close(CloseCode code, std::string reason) {
    if (close_) return;
    close_.emplace(code, std::move(reason));
    // Backstop: a peer that never reads will not make us writable again; cut it after 3 s.
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 3);
    request_write();
}

int Connection::fail(CloseCode code, const std::string& reason) {
    if (failed_) return -1;
    failed_ = true;
    last_failure_ = {code, reason};
    if (!close_) close_.emplace(code, reason);  // nothing more is queued or written
    spdlog::info("event=close conn={} user={} code={} reason=\"{}\"", id_, claims_.user_id,
                 static_cast<int>(code), reason);
    lws_close_reason(wsi_, static_cast<lws_close_status>(code),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(reason.data())),
                     reason.size());
    // Why not return -1 to lws: on the libuv event lib, Debian's lws 4.1.6 (a _DEBUG build)
    // closes a wsi whose callback returned -1 a second time at once ("uv repeat test"),
    // which kills the socket before the close frame is written. Instead the close starts
    // from a task outside any lws callback (Loop::start_close): lws sends the close frame,
    // then on_writable ends the connection. Works from inside and outside callbacks.
    loop_.post([&loop = loop_, id = id_] { loop.start_close(id); });
    return -1;
}

int Connection::write_batch() {
    {
        std::string& buf = loop_.scratch();
        buf.assign(LWS_PRE, '\0');
        while (out_head_ < out_.size() && buf.size() - LWS_PRE < kMaxWriteBatch) {
            const wire::Frame& f = *out_[out_head_];
            append_ws_frame(buf, f.bytes, f.binary);
            out_bytes_ -= f.bytes.size();
            out_[out_head_].reset();
            ++out_head_;
        }
        const size_t n = buf.size() - LWS_PRE;
        auto* data = reinterpret_cast<unsigned char*>(buf.data() + LWS_PRE);
        // lws keeps whatever the kernel did not take and sends it before the next writable.
        if (lws_write(wsi_, data, n, LWS_WRITE_RAW) < 0) return -1;
        if (out_head_ == out_.size()) {
            if (out_.capacity() > kKeepQueueCapacity) {
                std::vector<wire::FramePtr>().swap(out_);
            } else {
                out_.clear();
            }
            out_head_ = 0;
        }
        if (!drain_waiters_.empty()) run_drain_waiters();
    }
    return 0;
}

int Connection::on_writable() {
    write_requested_ = false;
    // After fail(), lws writes the close frame itself. Once it has (it calls us right after
    // in the same POLLOUT pass), -1 closes the socket without waiting for the peer's
    // close: the behaviour quckrt had on lws's poll backend.
    if (failed_) return close_started_ ? -1 : 0;
    if (out_head_ < out_.size()) {
        if (write_batch() < 0) return -1;
        if (out_head_ < out_.size() || close_) {
            // The socket was just filled: wait for it to drain rather than write again at
            // the end of the turn.
            request_writable();
            return 0;
        }
    }
    // Not -1 to lws: see fail().
    if (close_ && out_head_ == out_.size()) fail(close_->first, close_->second);
    return 0;
}

int Connection::on_receive(const char* data, size_t len) {
    if (failed_) return 0;  // closing with a close frame: later input is dropped
    const int rc = receive(data, len);
    // A failure with a close code is closed by the task fail() posted; -1 only for a dead
    // socket (a write error).
    return rc < 0 && failed_ ? 0 : rc;
}

int Connection::flush_after_receive() {
    // The connection that sent a message gets its reply (and its own copy of a broadcast)
    // right away when its socket can take it. Measured: under a saturated loop, lws serves
    // the POLLOUT of a socket that is also busy receiving far behind the others (a
    // publisher's replies waited seconds while its subscribers got frames in ~50 ms).
    if (out_head_ == out_.size() || close_ || lws_partial_buffered(wsi_) ||
        lws_send_pipe_choked(wsi_))
        return 0;
    if (write_batch() < 0) return -1;
    if (out_head_ < out_.size()) request_write();
    return 0;
}

int Connection::receive(const char* data, size_t len) {
    last_rx_ms_ = now_ms();
    const size_t limit = loop_.server().options().max_frame_bytes;
    const bool first = lws_is_first_fragment(wsi_);
    const bool final = lws_is_final_fragment(wsi_);
    if (first) {
        rx_.clear();
        rx_binary_ = lws_frame_is_binary(wsi_);
    }
    if (first && final) {
        if (len > limit) return fail(CloseCode::message_too_big, "message too big");
        if (process_message(std::string_view(data, len), rx_binary_) < 0) return -1;
        return flush_after_receive();
    }
    if (rx_.size() + len > limit) {
        rx_.clear();
        rx_.shrink_to_fit();
        return fail(CloseCode::message_too_big, "message too big");
    }
    rx_.append(data, len);
    if (!final) return 0;
    std::string message;
    message.swap(rx_);  // leaves rx_ without an allocation between messages
    if (process_message(message, rx_binary_) < 0) return -1;
    return flush_after_receive();
}

int Connection::process_message(std::string_view bytes, bool binary) {
    if (pending_join_) {
        // Bounded: a client that floods while its join is pending is cut off.
        if (held_.size() >= kMaxHeldFrames ||
            held_bytes_ + bytes.size() > loop_.server().options().max_frame_bytes * 4)
            return fail(CloseCode::policy_violation, "too many messages while a join is pending");
        held_.emplace_back(std::string(bytes), binary);
        held_bytes_ += bytes.size();
        return 0;
    }
    auto frame = binary ? wire::decode_binary(bytes) : wire::decode_text(bytes);
    if (!frame) {
        spdlog::info("event=bad_frame conn={} user={} error=\"{}\"", id_, claims_.user_id,
                     frame.error().message());
        return fail(binary ? CloseCode::protocol_error : CloseCode::invalid_payload,
                    frame.error().message());
    }
    dispatch(*frame);
    return 0;
}

void Connection::dispatch(wire::InFrame& frame) {
    if (frame.topic == "phoenix") {
        if (frame.event == "heartbeat") {
            reply(frame.join_ref, frame.ref, frame.topic, Reply::ok());
        } else {
            reply(wire::kNullRef, frame.ref, frame.topic, Reply::error("unmatched topic"));
        }
        return;
    }
    if (frame.event == "phx_join") return handle_join(frame);
    if (frame.event == "phx_leave") return handle_leave(frame);

    ChannelInstance* channel = find_channel(frame.topic);
    if (!channel) {
        reply(wire::kNullRef, frame.ref, frame.topic, Reply::error("unmatched topic"));
        return;
    }
    // A push for an earlier join of this topic is stale: drop it without a reply, as
    // Phoenix does. A null join_ref is accepted for older clients.
    if (!wire::is_null_ref(frame.join_ref) && frame.join_ref != channel->join_ref()) return;
    handle_push(frame, *channel);
}

ChannelInstance* Connection::find_channel(std::string_view topic) {
    for (auto& c : channels_)
        if (c->topic() == topic) return c.get();
    return nullptr;
}

void Connection::reply(std::string_view join_ref, std::string_view ref, std::string_view topic,
                       const Reply& r) {
    if (!r.response().is_object()) {
        loop_.server().report(internal_error("a reply response must be a JSON object; topic " +
                                             std::string(topic)));
        send(wire::encode_reply(join_ref, ref, topic, "error",
                                Json::object({{"reason", "invalid reply"}})));
        return;
    }
    send(wire::encode_reply(join_ref, ref, topic, r.status(), r.response()));
}

void Connection::report_exception(const char* what, const char* detail) {
    loop_.server().report(internal_error(std::string(what) + " threw: " + detail));
}

void Connection::handle_join(wire::InFrame& frame) {
    const ChannelFactory* factory = loop_.server().router().match(frame.topic);
    if (!factory) {
        reply(wire::kNullRef, frame.ref, frame.topic, Reply::error("unmatched topic"));
        return;
    }
    // Joining a topic this connection already holds replaces the old join (Phoenix): the
    // old channel ends, and its phx_close goes out after the new join's reply.
    std::string replaced_join_ref;
    if (ChannelInstance* old = find_channel(frame.topic)) {
        replaced_join_ref = old->join_ref();
        remove_channel(*old, TerminateReason::duplicate_join);
    }
    const int max = loop_.server().options().max_channels_per_socket;
    if (static_cast<int>(channels_.size()) >= max) {
        reply(frame.join_ref, frame.ref, frame.topic, Reply::error("too many channels joined"));
        if (!replaced_join_ref.empty()) send(wire::encode_close(replaced_join_ref, frame.topic));
        return;
    }
    std::unique_ptr<Channel> channel;
    run_guarded("channel factory", [&] { channel = (*factory)(); });
    if (!channel) {
        reply(frame.join_ref, frame.ref, frame.topic, Reply::error("join crashed"));
        if (!replaced_join_ref.empty()) send(wire::encode_close(replaced_join_ref, frame.topic));
        return;
    }
    auto pending = std::make_unique<PendingJoin>();
    pending->instance = std::make_unique<ChannelInstance>(*this, frame.topic, frame.join_ref,
                                                          std::move(channel));
    pending->ref = frame.ref;
    pending->replaced_join_ref = std::move(replaced_join_ref);
    pending->deadline_ms = now_ms() + loop_.server().options().join_timeout.count();
    pending_join_ = std::move(pending);

    ChannelInstance& instance = *pending_join_->instance;
    JoinResult result = JoinResult::error("join crashed");
    instance.set_in_join(true);
    run_guarded("join", [&] { result = instance.channel().join(frame.payload, instance); });
    instance.set_in_join(false);
    if (result.is_deferred() && !instance.join_target()) {
        loop_.server().report(internal_error("join of " + frame.topic +
                                             " deferred without taking a JoinResponder"));
        result = JoinResult::error("join crashed");
    }
    if (!result.is_deferred()) finish_join(std::move(result));
}

void Connection::complete_join(const std::string& topic, const std::string& join_ref,
                               JoinResult result) {
    if (!pending_join_ || pending_join_->instance->topic() != topic ||
        pending_join_->instance->join_ref() != join_ref)
        return;  // timed out, or the connection moved on
    finish_join(std::move(result));
    release_held();
}

void Connection::finish_join(JoinResult result) {
    std::unique_ptr<PendingJoin> pending = std::move(pending_join_);
    ChannelInstance& instance = *pending->instance;
    const std::string topic = instance.topic();
    if (!result.response().is_object()) result = JoinResult::error("invalid join reply");
    reply(instance.join_ref(), pending->ref, topic,
          Reply::status(result.accepted() ? "ok" : "error", result.response()));
    if (result.accepted()) {
        loop_.hub().subscribe(topic, instance.subscription());
        channels_.push_back(std::move(pending->instance));
        run_guarded("after_join", [&] { instance.channel().after_join(instance); });
    }
    if (!pending->replaced_join_ref.empty())
        send(wire::encode_close(pending->replaced_join_ref, topic));
}

void Connection::release_held() {
    // Process what waited behind the join, in order, until another join defers.
    size_t i = 0;
    for (; i < held_.size() && !pending_join_ && !close_; ++i) {
        auto& [bytes, binary] = held_[i];
        held_bytes_ -= bytes.size();
        if (process_message(bytes, binary) < 0) break;  // fail() started the close
    }
    held_.erase(held_.begin(), held_.begin() + static_cast<long>(i));
    if (held_.empty()) {
        std::vector<std::pair<std::string, bool>>().swap(held_);
        held_bytes_ = 0;
    }
}

void Connection::handle_leave(wire::InFrame& frame) {
    ChannelInstance* channel = find_channel(frame.topic);
    if (!channel) {
        reply(frame.join_ref, frame.ref, frame.topic, Reply::ok());
        return;
    }
    if (!wire::is_null_ref(frame.join_ref) && frame.join_ref != channel->join_ref()) return;
    std::string join_ref = channel->join_ref();
    reply(frame.join_ref, frame.ref, frame.topic, Reply::ok());
    remove_channel(*channel, TerminateReason::left);
    send(wire::encode_close(join_ref, frame.topic));
}

void Connection::handle_push(wire::InFrame& frame, ChannelInstance& channel) {
    InMessage message{frame.event, frame.payload, frame.binary_payload, frame.binary};
    channel.begin_message(&frame.ref);
    Reply result = Reply::none();
    bool crashed = false;
    try {
        result = channel.channel().handle_in(message, channel);
    } catch (const std::exception& e) {
        crashed = true;
        loop_.server().report(internal_error("handle_in " + frame.event + " on " + frame.topic +
                                             " threw: " + e.what()));
    } catch (...) {
        crashed = true;
        loop_.server().report(
            internal_error("handle_in " + frame.event + " on " + frame.topic + " threw"));
    }
    const bool may_reply = result.kind() != Reply::Kind::none && channel.claim_sync_reply();
    channel.end_message();
    if (crashed) {
        // Phoenix semantics: the channel is gone and the client rejoins after phx_error.
        std::string join_ref = channel.join_ref();
        remove_channel(channel, TerminateReason::closed);
        send(wire::encode_error(join_ref, frame.topic, "channel_crash"));
        return;
    }
    if (may_reply) reply(frame.join_ref, frame.ref, frame.topic, result);
    if (result.kind() == Reply::Kind::stop) {
        std::string join_ref = channel.join_ref();
        remove_channel(channel, TerminateReason::stopped);
        send(wire::encode_close(join_ref, frame.topic));
    }
}

void Connection::when_queued_below(const std::string& topic, const std::string& join_ref,
                                   size_t bytes, std::function<void(Socket&)> fn) {
    if (out_bytes_ <= bytes) {
        if (ChannelInstance* ch = find_channel(topic); ch && ch->join_ref() == join_ref)
            run_guarded("queued-below callback", [&] { fn(*ch); });
        return;
    }
    drain_waiters_.push_back({topic, join_ref, bytes, std::move(fn)});
}

void Connection::run_drain_waiters() {
    // Take the ready ones out first: a callback may queue output or register again.
    std::vector<DrainWaiter> ready;
    for (auto it = drain_waiters_.begin(); it != drain_waiters_.end();) {
        if (out_bytes_ <= it->bytes) {
            ready.push_back(std::move(*it));
            it = drain_waiters_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& w : ready) {
        ChannelInstance* ch = find_channel(w.topic);
        if (!ch || ch->join_ref() != w.join_ref) continue;  // that join is over
        run_guarded("queued-below callback", [&] { w.fn(*ch); });
    }
}

void Connection::late_reply(const std::string& topic, const std::string& join_ref,
                            const std::string& ref, const Reply& r) {
    ChannelInstance* channel = find_channel(topic);
    if (!channel || channel->join_ref() != join_ref) return;  // that join is over
    reply(join_ref, ref, topic, r);
}

void Connection::remove_channel(ChannelInstance& channel, TerminateReason reason) {
    loop_.hub().unsubscribe(channel.topic(), channel.subscription());
    channel.untrack_presence();
    try {
        channel.channel().terminate(reason, channel);
    } catch (const std::exception& e) {
        loop_.server().report(internal_error("terminate of " + channel.topic() +
                                             " threw: " + e.what()));
    }
    for (auto it = channels_.begin(); it != channels_.end(); ++it) {
        if (it->get() == &channel) {
            channels_.erase(it);
            break;
        }
    }
}

void Connection::on_closed(bool shutdown) {
    pending_join_.reset();  // never joined: no terminate; its JoinResponder finds nothing
    held_.clear();
    const TerminateReason reason = shutdown ? TerminateReason::shutdown : TerminateReason::closed;
    while (!channels_.empty()) remove_channel(*channels_.back(), reason);
}

void Connection::sweep(int64_t now, int64_t now_unix) {
    if (close_) return;
    if (pending_join_ && now >= pending_join_->deadline_ms) {
        finish_join(JoinResult::error("join timeout"));
        release_held();
    }
    const auto& opts = loop_.server().options();
    if (claims_.expires_at > 0 && now_unix >= claims_.expires_at) {
        close(CloseCode::token_expired, "token expired");
    } else if (now - last_rx_ms_ > opts.idle_timeout.count()) {
        close(CloseCode::idle_timeout, "idle timeout");
    }
}

}  // namespace quckrt::net
