// Connection: one WebSocket client on one loop. Reassembles incoming messages, decodes them,
// runs the channel protocol (join, leave, push, heartbeat) and owns a bounded output queue
// that drains, corked, on the writable callback.
#pragma once

#include <libwebsockets.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <quckrt/auth.hpp>
#include <quckrt/channel.hpp>
#include <quckrt/server.hpp>

#include "core/hub.hpp"
#include "wire/frame.hpp"
#include "wire/phoenix_v2.hpp"

namespace quckrt::net {

class ChannelInstance;
class Loop;

class Connection final : public core::FrameSink {
public:
    Connection(Loop& loop, lws* wsi, uint64_t id, Claims claims, ConnectInfo info);
    ~Connection() override;

    uint64_t id() const { return id_; }
    const Claims& claims() const { return claims_; }
    const ConnectInfo& connect_info() const { return info_; }
    Loop& loop() { return loop_; }

    // FrameSink: queue a shared frame (a broadcast).
    void deliver(const wire::FramePtr& frame) override;
    // send(bytes): queue a frame for this connection only.
    void send(std::string bytes);

    // close(code, reason): flush what is queued, then close with that code. The first
    // close wins.
    void close(CloseCode code, std::string reason);

    // lws events; a negative return closes the connection.
    int on_receive(const char* data, size_t len);
    int on_writable();
    void on_closed(bool shutdown);

    // sweep(now): idle timeout and token expiry.
    void sweep(int64_t now_ms, int64_t now_unix);

    // Responder support: deliver a late reply for (topic, join_ref, ref) if that channel
    // instance is still the current one.
    void late_reply(const std::string& topic, const std::string& join_ref,
                    const std::string& ref, const Reply& reply);

    ChannelInstance* find_channel(std::string_view topic);

    size_t queued_bytes() const { return out_bytes_; }
    bool closing() const { return close_.has_value(); }
    lws* wsi() const { return wsi_; }
    // flush(): the end-of-turn write request_write() asked for (Loop::flush_pending);
    // outside lws callbacks.
    void flush();
    // Loop::start_close is handing the close to lws (see on_writable).
    void mark_close_started() { close_started_ = true; }
    // when_queued_below: see Socket::when_queued_below; keyed by the channel's join.
    void when_queued_below(const std::string& topic, const std::string& join_ref, size_t bytes,
                           std::function<void(Socket&)> fn);

    // complete_join: the answer to a deferred join (JoinResponder), on the loop.
    void complete_join(const std::string& topic, const std::string& join_ref, JoinResult result);

    // run_guarded(what, fn): run host code; an exception is reported, never propagated.
    template <class Fn>
    bool run_guarded(const char* what, Fn&& fn);

private:
    // fail(code, reason): close with a close frame carrying code, as soon as lws can (see
    // connection.cpp for why not by returning -1). Returns -1 for the callers' control
    // flow; nothing is read or written for this connection afterwards.
    int fail(CloseCode code, const std::string& reason);
    int receive(const char* data, size_t len);
    int process_message(std::string_view bytes, bool binary);
    void dispatch(wire::InFrame& frame);
    void handle_join(wire::InFrame& frame);
    void finish_join(JoinResult result);
    void release_held();
    void report_exception(const char* what, const char* detail);
    void handle_leave(wire::InFrame& frame);
    void handle_push(wire::InFrame& frame, ChannelInstance& channel);
    void reply(std::string_view join_ref, std::string_view ref, std::string_view topic,
               const Reply& reply);
    void remove_channel(ChannelInstance& channel, TerminateReason reason);
    void request_write();     // write at the end of this loop turn
    void request_writable();  // write when lws reports the socket writable
    int write_batch();
    int flush_after_receive();
    void run_drain_waiters();

    Loop& loop_;
    lws* wsi_;
    const uint64_t id_;
    Claims claims_;
    ConnectInfo info_;

    // Output queue: frames from out_head_ on are waiting. A vector, not a deque: an idle
    // connection then holds no allocation at all.
    std::vector<wire::FramePtr> out_;
    size_t out_head_ = 0;
    size_t out_bytes_ = 0;
    bool write_requested_ = false;  // lws_callback_on_writable pending
    bool flush_queued_ = false;     // in the loop's flush list

    std::string rx_;  // reassembly of a fragmented message; empty between messages
    bool rx_binary_ = false;
    bool rx_overflow_ = false;

    std::vector<std::unique_ptr<ChannelInstance>> channels_;

    struct DrainWaiter {
        std::string topic;
        std::string join_ref;
        size_t bytes = 0;
        std::function<void(Socket&)> fn;
    };
    std::vector<DrainWaiter> drain_waiters_;

    // A deferred join in flight. Until it completes, incoming messages wait in held_ in
    // arrival order (bounded), so a leave or push right behind the join sees it done.
    struct PendingJoin {
        std::unique_ptr<ChannelInstance> instance;
        std::string ref;
        std::string replaced_join_ref;
        int64_t deadline_ms = 0;
    };
    std::unique_ptr<PendingJoin> pending_join_;
    std::vector<std::pair<std::string, bool>> held_;
    size_t held_bytes_ = 0;
    int64_t last_rx_ms_;
    std::optional<std::pair<CloseCode, std::string>> close_;
    bool failed_ = false;         // fail() ran: the close is scheduled
    bool close_started_ = false;  // Loop::start_close ran: lws sends the close frame
    std::pair<CloseCode, std::string> last_failure_{CloseCode::internal_error, ""};
};

template <class Fn>
bool Connection::run_guarded(const char* what, Fn&& fn) {
    try {
        fn();
        return true;
    } catch (const std::exception& e) {
        report_exception(what, e.what());
    } catch (...) {
        report_exception(what, "unknown exception");
    }
    return false;
}

}  // namespace quckrt::net
