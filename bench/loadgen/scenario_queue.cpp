// queue-drain: store-and-forward throughput (docs/chat.md, "user:{user_id}").
//
// Phase 1 (send): u0 joins --topic (chat:c0; the conversation has members u0 and u1) and
// sends --messages message:send with --window in flight. u1 is not connected, so every
// send also queues an entry for u1 in the same transaction; an ok reply means both are
// committed.
// Phase 2 (drain): u1 connects and joins user:u1. The server pushes the backlog as
// message:new in queue order; each one is checked (seq increasing, id not seen before) and
// acked with message:ack {messageId}, at most --ack-window acks in flight. The phase ends
// when every acknowledged send of phase 1 has arrived and every ack has been answered.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "admin_http.hpp"
#include "common.hpp"
#include "scenarios.hpp"
#include "token.hpp"

namespace quckrt::bench {
namespace {

constexpr int64_t kTickNs = 200 * kNsPerMs;

// string_field(payload, key): the value of the first "key":"..." in payload (escapes kept).
std::string_view string_field(std::string_view payload, std::string_view key) {
    std::string pattern = "\"";
    pattern += key;
    pattern += "\":\"";
    const size_t at = payload.find(pattern);
    if (at == std::string_view::npos) return {};
    const size_t begin = at + pattern.size();
    size_t end = begin;
    while (end < payload.size() && payload[end] != '"') end += payload[end] == '\\' ? 2 : 1;
    return end < payload.size() ? payload.substr(begin, end - begin) : std::string_view{};
}

// int_field(payload, key): the value of the first "key":N in payload, or -1.
int64_t int_field(std::string_view payload, std::string_view key) {
    std::string pattern = "\"";
    pattern += key;
    pattern += "\":";
    const size_t at = payload.find(pattern);
    if (at == std::string_view::npos) return -1;
    const char* begin = payload.data() + at + pattern.size();
    int64_t v = -1;
    const auto r = std::from_chars(begin, payload.data() + payload.size(), v);
    return r.ec == std::errc() ? v : -1;
}

class QueueRun final : public ClientHandler {
  public:
    explicit QueueRun(const Options& options) : options_(options) {}
    int run(const Endpoint& endpoint);

    void on_reply_payload(Connection& c, uint64_t ref, std::string_view payload) override;
    void on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) override;
    void on_message(Connection& c, const PhoenixFrame& f, int64_t now) override;

  private:
    void send_next(Connection& c, int64_t now);
    void send_acks(Connection& c, int64_t now);
    bool run_until(ClientLoop& loop, int64_t deadline, bool (QueueRun::*done)() const,
                   const char* label);
    bool sends_done() const { return replied_ >= options_.messages; }
    bool drain_done() const {
        return received_ >= sent_ok_ && acks_ok_ + acks_error_ >= received_ && ack_queue_.empty();
    }
    int fail_result(ClientLoop& loop, const std::string& what);

    const Options& options_;
    ClientLoop* loop_ = nullptr;
    std::string topic_user_;  // user:u1
    std::string scratch_;
    // Phase 1.
    uint64_t sent_ = 0;
    uint64_t replied_ = 0;
    uint64_t sent_ok_ = 0;
    uint64_t sent_error_ = 0;
    std::map<std::string, uint64_t> errors_;  // error reply payloads (truncated) by count
    std::vector<int64_t> send_ts_;            // by ref - kFirstRef
    Histogram send_latency_;
    int64_t last_send_reply_ns_ = 0;
    // Phase 2.
    uint64_t received_ = 0;
    uint64_t duplicates_ = 0;
    uint64_t out_of_order_ = 0;
    uint64_t unparsed_ = 0;
    uint64_t other_events_ = 0;
    uint64_t echoes_ = 0;
    int64_t last_seq_ = 0;
    std::unordered_set<std::string> seen_ids_;
    std::deque<std::string> ack_queue_;  // ids received, ack not yet sent
    uint64_t acks_in_flight_ = 0;
    uint64_t acks_ok_ = 0;
    uint64_t acks_error_ = 0;
    uint64_t acks_deleted_ = 0;    // replies {"deleted":true}
    std::vector<int64_t> ack_ts_;  // by ref - kFirstRef
    Histogram ack_latency_;
    int64_t first_msg_ns_ = 0;
    int64_t last_msg_ns_ = 0;
    int64_t last_ack_ns_ = 0;
};

void QueueRun::send_next(Connection& c, int64_t now) {
    if (sent_ >= options_.messages || c.state != ConnState::joined) return;
    scratch_.clear();
    const uint64_t ref = c.next_ref++;
    append_push(scratch_, c.topic_name, ref, now, options_.payload_bytes, c.index);
    loop_->send_text(c, scratch_);
    send_ts_.push_back(now);  // refs on this connection are consecutive from kFirstRef
    ++sent_;
}

void QueueRun::send_acks(Connection& c, int64_t now) {
    while (acks_in_flight_ < options_.ack_window && !ack_queue_.empty() &&
           c.state == ConnState::joined) {
        scratch_.clear();
        const uint64_t ref = c.next_ref++;
        scratch_ += R"(["1",")";
        scratch_ += std::to_string(ref);
        scratch_ += R"(",")";
        scratch_ += topic_user_;
        scratch_ += R"(","message:ack",{"messageId":")";
        scratch_ += ack_queue_.front();
        scratch_ += R"("}])";
        ack_queue_.pop_front();
        loop_->send_text(c, scratch_);
        if (ack_ts_.size() <= ref - kFirstRef) ack_ts_.resize(ref - kFirstRef + 1, 0);
        ack_ts_[ref - kFirstRef] = now;
        ++acks_in_flight_;
    }
}

void QueueRun::on_reply_payload(Connection& c, uint64_t /*ref*/, std::string_view payload) {
    if (!reply_ok(payload)) {
        const std::string key(payload.substr(0, 160));
        ++errors_[(c.index == 0 ? "send: " : "ack: ") + key];
    } else if (c.index == 1 && payload.find("\"deleted\":true") != std::string_view::npos) {
        ++acks_deleted_;
    }
}

void QueueRun::on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) {
    if (c.index == 0) {
        ++replied_;
        ok ? ++sent_ok_ : ++sent_error_;
        last_send_reply_ns_ = now;
        if (ref >= kFirstRef && ref - kFirstRef < send_ts_.size()) {
            send_latency_.record(now - send_ts_[ref - kFirstRef]);
        }
        send_next(c, now);
        return;
    }
    if (acks_in_flight_ > 0) --acks_in_flight_;
    ok ? ++acks_ok_ : ++acks_error_;
    last_ack_ns_ = now;
    if (ref >= kFirstRef && ref - kFirstRef < ack_ts_.size() && ack_ts_[ref - kFirstRef] > 0) {
        ack_latency_.record(now - ack_ts_[ref - kFirstRef]);
    }
    send_acks(c, now);
}

void QueueRun::on_message(Connection& c, const PhoenixFrame& f, int64_t now) {
    if (c.index == 0 && f.event == "message:new") {
        ++echoes_;  // the sender's own broadcast on chat:*
        return;
    }
    if (c.index != 1 || f.event != "message:new") {
        ++other_events_;
        return;
    }
    const std::string_view id = string_field(f.payload, "id");
    const int64_t seq = int_field(f.payload, "seq");
    if (id.empty() || seq < 0) {
        ++unparsed_;
        return;
    }
    if (!seen_ids_.emplace(id).second) {
        ++duplicates_;  // at-least-once: a duplicate is acked again, not counted
    } else {
        ++received_;
        if (seq <= last_seq_) ++out_of_order_;
        last_seq_ = seq;
        if (first_msg_ns_ == 0) first_msg_ns_ = now;
        last_msg_ns_ = now;
    }
    ack_queue_.emplace_back(id);
    send_acks(c, now);
}

bool QueueRun::run_until(ClientLoop& loop, int64_t deadline, bool (QueueRun::*done)() const,
                         const char* label) {
    int64_t next_tick = now_ns() + kTickNs;
    int64_t next_report = now_ns() + kNsPerSec;
    for (int64_t now = now_ns(); !(this->*done)(); now = now_ns()) {
        if (now >= deadline || loop.failed() > 0) return false;
        loop.poll(20);
        if (now >= next_tick) {
            loop.tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            std::printf("[%s] sends ok %llu / %u; backlog received %llu, acks ok %llu\n", label,
                        static_cast<unsigned long long>(sent_ok_), options_.messages,
                        static_cast<unsigned long long>(received_),
                        static_cast<unsigned long long>(acks_ok_));
            next_report = now + kNsPerSec;
        }
    }
    return true;
}

int QueueRun::fail_result(ClientLoop& loop, const std::string& what) {
    std::fprintf(stderr, "error: %s\n", what.c_str());
    print_failures(loop);
    for (const auto& [text, count] : errors_) {
        std::printf("  error replies x%llu: %s\n", static_cast<unsigned long long>(count),
                    text.c_str());
    }
    emit_result(JsonObject()
                    .text("scenario", "queue-drain")
                    .flag("ok", false)
                    .text("error", what)
                    .integer("sends_ok", static_cast<int64_t>(sent_ok_))
                    .integer("received", static_cast<int64_t>(received_))
                    .integer("acks_ok", static_cast<int64_t>(acks_ok_))
                    .object("failures", failures_json(loop)));
    return 1;
}

int QueueRun::run(const Endpoint& endpoint) {
    if (!options_.topic.starts_with("chat:") || options_.topic.size() <= 5) {
        std::fprintf(stderr, "error: queue-drain needs a chat:<conversation> --topic\n");
        return 2;
    }
    ClientLoop loop(endpoint, *this, 2, loop_limits(options_));
    if (!loop.ok()) {
        std::fprintf(stderr, "error: %s\n", loop.error().c_str());
        return 2;
    }
    loop_ = &loop;
    const std::string sender = user_id(0);
    const std::string receiver = user_id(1);
    topic_user_ = "user:" + receiver;
    loop.conn(0).topic_name = options_.topic;
    loop.conn(1).topic_name = topic_user_;
    std::string error;
    if (options_.create_conversations) {
        CreateResult created;
        const std::vector<ConversationSpec> specs{{options_.topic.substr(5), {sender, receiver}}};
        if (!create_conversations(endpoint, options_.admin_token, specs, created, error)) {
            std::fprintf(stderr, "error: %s\n", error.c_str());
            return 2;
        }
        if (created.existed > 0) {
            std::printf(
                "[setup] warning: conversation %s already existed; an old backlog for "
                "%s would be counted too\n",
                specs[0].id.c_str(), receiver.c_str());
        }
    }

    // Phase 1: u0 sends while u1 is offline.
    if (!establish(loop, 0, 1, options_, "sender")) return 2;
    if (loop.failed() > 0) return fail_result(loop, "the sender could not join " + options_.topic);
    const ProcessSample p0 = sample_server(options_);
    const int64_t send_begin = now_ns();
    for (uint32_t w = 0; w < std::max<uint32_t>(options_.window, 1); ++w) {
        send_next(loop.conn(0), send_begin);
    }
    const bool sends_finished = run_until(loop, send_begin + seconds_to_ns(options_.timeout_s),
                                          &QueueRun::sends_done, "send");
    const ProcessSample p1 = sample_server(options_);
    const double send_s = static_cast<double>(last_send_reply_ns_ - send_begin) / 1e9;
    if (!sends_finished) {
        return fail_result(loop, loop.failed() > 0 ? "the sender's connection was lost"
                                                   : "the sends did not finish within --timeout");
    }
    std::printf(
        "send phase: %llu message:send to %s with %u in flight while %s is offline: "
        "%llu ok, %llu error in %.3f s = %.0f acknowledged sends/s\n",
        static_cast<unsigned long long>(sent_), options_.topic.c_str(), options_.window,
        receiver.c_str(), static_cast<unsigned long long>(sent_ok_),
        static_cast<unsigned long long>(sent_error_), send_s,
        static_cast<double>(sent_ok_) / send_s);
    print_latency("send to ok reply", send_latency_);
    // Let the server settle (its writer thread may still be checkpointing) before phase 2.
    poll_for(loop, 500 * kNsPerMs);

    // Phase 2: u1 connects and drains user:u1.
    const ProcessSample d0 = sample_server(options_);
    const int64_t connect_begin = now_ns();
    if (!establish(loop, 1, 2, options_, "receiver")) return 2;
    if (loop.failed() > 0) return fail_result(loop, "the receiver could not join " + topic_user_);
    const int64_t join_sent = loop.conn(1).join_sent_ns;
    const int64_t joined = loop.conn(1).joined_ns;
    const bool drained = run_until(loop, connect_begin + seconds_to_ns(options_.timeout_s),
                                   &QueueRun::drain_done, "drain");
    const int64_t drain_end = now_ns();
    const ProcessSample d1 = sample_server(options_);
    if (!drained) {
        return fail_result(
            loop, std::string(loop.failed() > 0 ? "the receiver's connection was lost"
                                                : "the backlog was not drained within --timeout") +
                      " (received " + std::to_string(received_) + " of " +
                      std::to_string(sent_ok_) + ")");
    }
    // Anything pushed twice or late would arrive now.
    poll_for(loop, 500 * kNsPerMs);

    const double to_first_ms = static_cast<double>(first_msg_ns_ - join_sent) / 1e6;
    const double deliver_s = static_cast<double>(last_msg_ns_ - join_sent) / 1e9;
    const double ack_s = static_cast<double>(last_ack_ns_ - join_sent) / 1e9;
    const double join_ms = static_cast<double>(joined - join_sent) / 1e6;
    const double msgs_per_s = static_cast<double>(received_) / deliver_s;
    const double acks_per_s = static_cast<double>(acks_ok_) / ack_s;
    std::printf("drain phase: %s joined %s in %.1f ms; first message:new after %.1f ms\n",
                receiver.c_str(), topic_user_.c_str(), join_ms, to_first_ms);
    std::printf(
        "backlog: %llu of %llu messages received in %.3f s = %.0f messages/s "
        "(from the phx_join); out of order %llu, duplicates %llu, unparsed %llu\n",
        static_cast<unsigned long long>(received_), static_cast<unsigned long long>(sent_ok_),
        deliver_s, msgs_per_s, static_cast<unsigned long long>(out_of_order_),
        static_cast<unsigned long long>(duplicates_), static_cast<unsigned long long>(unparsed_));
    std::printf(
        "acks: %llu ok (%llu deleted an entry), %llu error, %u in flight; all answered "
        "%.3f s after the phx_join = %.0f acks/s\n",
        static_cast<unsigned long long>(acks_ok_), static_cast<unsigned long long>(acks_deleted_),
        static_cast<unsigned long long>(acks_error_), options_.ack_window, ack_s, acks_per_s);
    print_latency("ack to reply", ack_latency_);
    for (const auto& [text, count] : errors_) {
        std::printf("  error replies x%llu: %s\n", static_cast<unsigned long long>(count),
                    text.c_str());
    }
    std::printf("also received: %llu message:new echoes on the sender, %llu other frames\n",
                static_cast<unsigned long long>(echoes_),
                static_cast<unsigned long long>(other_events_));

    JsonObject result;
    result.text("scenario", "queue-drain")
        .integer("messages", options_.messages)
        .integer("window", options_.window)
        .integer("ack_window", options_.ack_window)
        .integer("payload_bytes", options_.payload_bytes)
        .integer("sends_ok", static_cast<int64_t>(sent_ok_))
        .integer("sends_error", static_cast<int64_t>(sent_error_))
        .num("send_s", send_s)
        .num("acked_sends_per_s", static_cast<double>(sent_ok_) / send_s)
        .object("send_reply_latency_us", latency_json(send_latency_))
        .num("join_ms", join_ms)
        .num("first_message_ms", to_first_ms)
        .integer("received", static_cast<int64_t>(received_))
        .integer("out_of_order", static_cast<int64_t>(out_of_order_))
        .integer("duplicates", static_cast<int64_t>(duplicates_))
        .integer("unparsed", static_cast<int64_t>(unparsed_))
        .integer("sender_echoes", static_cast<int64_t>(echoes_))
        .integer("other_frames", static_cast<int64_t>(other_events_))
        .num("drain_s", deliver_s)
        .num("drain_messages_per_s", msgs_per_s)
        .integer("acks_ok", static_cast<int64_t>(acks_ok_))
        .integer("acks_error", static_cast<int64_t>(acks_error_))
        .integer("acks_deleted", static_cast<int64_t>(acks_deleted_))
        .num("acks_done_s", ack_s)
        .num("acks_per_s", acks_per_s)
        .object("ack_latency_us", latency_json(ack_latency_));
    if (p0.ok && p1.ok && d0.ok && d1.ok) {
        const double send_cpu = static_cast<double>(p1.cpu_ns - p0.cpu_ns) / 1e9;
        const double drain_cpu = static_cast<double>(d1.cpu_ns - d0.cpu_ns) / 1e9;
        const double drain_wall = static_cast<double>(drain_end - connect_begin) / 1e9;
        const double send_wall = static_cast<double>(last_send_reply_ns_ - send_begin) / 1e9;
        std::printf(
            "server: send phase %.2f s CPU (%.0f%% of a core), drain phase %.2f s CPU "
            "(%.0f%% of a core); RSS %.1f MiB (peak %.1f MiB)\n",
            send_cpu, 100 * send_cpu / send_wall, drain_cpu, 100 * drain_cpu / drain_wall,
            d1.rss_kb / 1024.0, d1.hwm_kb / 1024.0);
        result.num("server_send_cpu_s", send_cpu)
            .num("server_send_cpu_pct", 100 * send_cpu / send_wall)
            .num("server_drain_cpu_s", drain_cpu)
            .num("server_drain_cpu_pct", 100 * drain_cpu / drain_wall)
            .integer("server_rss_kb", d1.rss_kb)
            .integer("server_hwm_kb", d1.hwm_kb);
    }
    const bool ok = loop.failed() == 0 && sent_error_ == 0 && received_ == sent_ok_ &&
                    out_of_order_ == 0 && duplicates_ == 0 && unparsed_ == 0 && acks_error_ == 0 &&
                    acks_ok_ == received_;
    result.integer("connections_lost", static_cast<int64_t>(loop.failed())).flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

}  // namespace

int run_queue_drain(const Options& options) {
    if (options.messages == 0) {
        std::fprintf(stderr, "error: queue-drain needs --messages > 0\n");
        return 2;
    }
    Endpoint endpoint;
    std::string error;
    if (!make_endpoint(options, endpoint, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    QueueRun run(options);
    return run.run(endpoint);
}

}  // namespace quckrt::bench
