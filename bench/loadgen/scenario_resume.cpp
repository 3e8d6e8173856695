// Resume (docs/chat.md "Resume"): a rejoin of chat:X with last_seq replays every event the
// client missed, in order, exactly once, then live events.
//
// replay: u0 sends --messages into --topic while u1 is offline; u1 then joins with
//   {"last_seq": B} and the loadgen times the join reply, the first replayed event and the
//   last one (seq == to_seq), counts the bytes, and checks that every seq from_seq..to_seq
//   arrived once and in order. --fetch history does the same catch-up the naive way for
//   comparison: a fresh join, then `history` {afterSeq, limit} pages one request at a time.
// resume-storm: --readers in --conversations miss --messages each, then all reconnect and
//   resume at once, while other clients (pairs in their own conversations) keep sending at
//   a steady rate; their latency before and during the storm is the figure.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin_http.hpp"
#include "common.hpp"
#include "scenarios.hpp"
#include "token.hpp"

namespace quckrt::bench {
namespace {

constexpr int64_t kTickNs = 200 * kNsPerMs;

// int_field(payload, key, from): the value of the first "key":N in payload at or after
// `from`, or -1; *end (optional) gets the position after the number.
int64_t int_field(std::string_view payload, std::string_view key, size_t from = 0,
                  size_t* end = nullptr) {
    std::string pattern = "\"";
    pattern += key;
    pattern += "\":";
    const size_t at = payload.find(pattern, from);
    if (at == std::string_view::npos) {
        if (end) *end = std::string_view::npos;
        return -1;
    }
    const char* begin = payload.data() + at + pattern.size();
    int64_t v = -1;
    const auto r = std::from_chars(begin, payload.data() + payload.size(), v);
    if (end) *end = static_cast<size_t>(r.ptr - payload.data());
    return r.ec == std::errc() ? v : -1;
}

// has_true(payload, key): whether payload contains "key":true.
bool has_true(std::string_view payload, std::string_view key) {
    std::string pattern = "\"";
    pattern += key;
    pattern += "\":true";
    return payload.find(pattern) != std::string_view::npos;
}

// The events that take a seq of the conversation's one sequence.
bool sequenced_event(std::string_view event) {
    return event == "message:new" || event == "message:edited" || event == "message:deleted" ||
           event == "message:reaction:added" || event == "message:reaction:removed";
}

// SeqChecker: one client's view of one conversation's sequence. Every seq must arrive once,
// in order: `next` is the one expected; a lower one is a duplicate (or late), a higher one
// skips `missing` seqs.
struct SeqChecker {
    int64_t next = 1;
    uint64_t received = 0;
    uint64_t duplicates = 0;
    uint64_t missing = 0;
    uint64_t unparsed = 0;

    void accept(int64_t seq) {
        if (seq < 0) {
            ++unparsed;
            return;
        }
        ++received;
        if (seq == next) {
            ++next;
        } else if (seq < next) {
            ++duplicates;
        } else {
            missing += static_cast<uint64_t>(seq - next);
            next = seq + 1;
        }
    }
    int64_t last() const { return next - 1; }
    uint64_t errors() const { return duplicates + missing + unparsed; }
};

void append_u64(std::string& out, uint64_t v) { out += std::to_string(v); }

double ms_between(int64_t from, int64_t to) { return static_cast<double>(to - from) / 1e6; }

void print_errors(const std::map<std::string, uint64_t>& errors) {
    for (const auto& [text, count] : errors) {
        std::printf("  error replies x%llu: %s\n", static_cast<unsigned long long>(count),
                    text.c_str());
    }
}

// Server CPU over an interval: seconds and % of one core.
struct CpuFigures {
    bool ok = false;
    double cpu_s = 0;
    double pct = 0;
};

CpuFigures cpu_between(const ProcessSample& a, const ProcessSample& b, int64_t wall_ns) {
    CpuFigures f;
    if (!a.ok || !b.ok || wall_ns <= 0) return f;
    f.ok = true;
    f.cpu_s = static_cast<double>(b.cpu_ns - a.cpu_ns) / 1e9;
    f.pct = 100 * f.cpu_s / (static_cast<double>(wall_ns) / 1e9);
    return f;
}

// ---------------------------------------------------------------------------------------
// replay

class ReplayRun final : public ClientHandler {
  public:
    explicit ReplayRun(const Options& options) : options_(options) {}
    int run(const Endpoint& endpoint);

    void on_join_reply(Connection& c, bool ok, std::string_view payload, int64_t now) override;
    void on_joined(Connection& c, int64_t now) override;
    void on_reply_payload(Connection& c, uint64_t ref, std::string_view payload) override;
    void on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) override;
    void on_message(Connection& c, const PhoenixFrame& f, int64_t now) override;

  private:
    static constexpr size_t kWriter = 0;
    static constexpr size_t kReader = 1;
    bool history_mode() const { return options_.fetch == "history"; }
    void send_next(Connection& c, int64_t now);
    void request_page(Connection& c, int64_t after, int64_t now);
    bool sends_done() const { return replied_ >= quota_; }
    bool catchup_done() const;
    bool reader_closed() const { return loop_->conn(kReader).state == ConnState::closed; }
    void reset_reader();
    bool run_until(ClientLoop& loop, int64_t deadline, bool (ReplayRun::*done)() const,
                   const char* label);
    int fail_result(ClientLoop& loop, const std::string& what);

    const Options& options_;
    ClientLoop* loop_ = nullptr;
    std::string scratch_;
    std::map<std::string, uint64_t> errors_;
    // Writer.
    uint64_t quota_ = 0;  // sends to make so far (--messages, then + --live-messages)
    uint64_t sent_ = 0;
    uint64_t replied_ = 0;
    uint64_t sent_ok_ = 0;
    int64_t last_written_seq_ = 0;  // highest seq in an ok send reply
    std::vector<int64_t> send_ts_;  // by ref - kFirstRef
    Histogram send_latency_;
    int64_t last_send_reply_ns_ = 0;
    uint64_t echoes_ = 0;
    // Reader.
    bool join_replied_ = false;
    bool recovered_ = false;
    std::string join_reply_;              // the payload, for the report
    int64_t conversation_last_seq_ = -1;  // lastSeq in the join reply
    int64_t from_seq_ = -1;
    int64_t to_seq_ = -1;
    int64_t target_ = -1;  // the catch-up is over once this seq arrived
    SeqChecker seqs_;
    uint64_t other_events_ = 0;
    int64_t first_event_ns_ = 0;
    int64_t done_ns_ = 0;  // target seq received (resume) or last page answered (history)
    uint64_t done_wire_bytes_ = 0;
    uint64_t done_payload_bytes_ = 0;
    uint64_t done_frames_ = 0;
    uint64_t reader_frames_ = 0;
    // history mode
    uint64_t pages_ = 0;
    bool history_over_ = false;
    int64_t page_sent_ns_ = 0;
    Histogram page_latency_;
    // live messages (resume mode): sent once the join is answered
    bool live_started_ = false;
};

void ReplayRun::send_next(Connection& c, int64_t now) {
    if (sent_ >= quota_ || c.state != ConnState::joined) return;
    scratch_.clear();
    const uint64_t ref = c.next_ref++;
    append_push(scratch_, c.topic_name, ref, now, options_.payload_bytes, c.index);
    loop_->send_text(c, scratch_);
    if (send_ts_.size() <= ref - kFirstRef) send_ts_.resize(ref - kFirstRef + 1, 0);
    send_ts_[ref - kFirstRef] = now;
    ++sent_;
}

void ReplayRun::request_page(Connection& c, int64_t after, int64_t now) {
    scratch_.clear();
    scratch_ += R"(["1",")";
    append_u64(scratch_, c.next_ref++);
    scratch_ += R"(",")";
    scratch_ += c.topic_name;
    scratch_ += R"(","history",{"afterSeq":)";
    append_u64(scratch_, static_cast<uint64_t>(after));
    scratch_ += R"(,"limit":)";
    append_u64(scratch_, options_.page);
    scratch_ += "}]";
    loop_->send_text(c, scratch_);
    page_sent_ns_ = now;
}

void ReplayRun::reset_reader() {
    join_replied_ = false;
    recovered_ = false;
    join_reply_.clear();
    conversation_last_seq_ = -1;
    from_seq_ = -1;
    to_seq_ = -1;
    target_ = -1;
    seqs_ = SeqChecker{};
    first_event_ns_ = 0;
    done_ns_ = 0;
    done_wire_bytes_ = 0;
    done_payload_bytes_ = 0;
    done_frames_ = 0;
    reader_frames_ = 0;
    pages_ = 0;
    history_over_ = false;
    live_started_ = false;
}

bool ReplayRun::catchup_done() const {
    if (done_ns_ == 0) return false;
    if (history_mode() || options_.live_messages == 0) return true;
    return replied_ >= quota_ && seqs_.next > last_written_seq_;
}

void ReplayRun::on_join_reply(Connection& c, bool ok, std::string_view payload, int64_t /*now*/) {
    if (c.index != kReader) return;
    join_replied_ = true;
    join_reply_.assign(payload.substr(0, 300));
    if (!ok) return;
    conversation_last_seq_ = int_field(payload, "lastSeq");
    seqs_.next = static_cast<int64_t>(options_.last_seq) + 1;
    if (history_mode()) {
        target_ = conversation_last_seq_;
        return;
    }
    recovered_ = has_true(payload, "recovered");
    from_seq_ = int_field(payload, "from_seq");
    to_seq_ = int_field(payload, "to_seq");
    target_ = to_seq_;
}

void ReplayRun::on_joined(Connection& c, int64_t now) {
    if (c.index != kReader) return;
    if (history_mode()) {
        request_page(c, options_.last_seq, now);
        return;
    }
    if (!recovered_ || to_seq_ < from_seq_) done_ns_ = now;  // nothing to replay
    if (options_.live_messages > 0 && !live_started_) {
        live_started_ = true;
        quota_ += options_.live_messages;
        Connection& writer = loop_->conn(kWriter);
        for (uint32_t w = 0; w < std::max<uint32_t>(options_.window, 1); ++w) {
            send_next(writer, now);
        }
    }
}

void ReplayRun::on_reply_payload(Connection& c, uint64_t /*ref*/, std::string_view payload) {
    if (!reply_ok(payload)) {
        const std::string key(payload.substr(0, 160));
        ++errors_[(c.index == kWriter ? "send: " : "history: ") + key];
        return;
    }
    if (c.index == kWriter) {
        last_written_seq_ = std::max(last_written_seq_, int_field(payload, "seq"));
        return;
    }
    // A history page: {"messages":[{..."seq":N...},...],"hasMore":B}, ascending seq.
    ++pages_;
    size_t pos = 0;
    for (;;) {
        size_t end = 0;
        const int64_t seq = int_field(payload, "seq", pos, &end);
        if (end == std::string_view::npos) break;
        seqs_.accept(seq);
        pos = end;
    }
    if (!has_true(payload, "hasMore")) history_over_ = true;
}

void ReplayRun::on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) {
    if (c.index == kWriter) {
        ++replied_;
        if (ok) ++sent_ok_;
        last_send_reply_ns_ = now;
        if (ref >= kFirstRef && ref - kFirstRef < send_ts_.size() && send_ts_[ref - kFirstRef]) {
            send_latency_.record(now - send_ts_[ref - kFirstRef]);
        }
        send_next(c, now);
        return;
    }
    if (!history_mode()) return;  // the resume reader sends no pushes
    page_latency_.record(now - page_sent_ns_);
    if (first_event_ns_ == 0) first_event_ns_ = now;
    if (!ok || history_over_) {
        done_ns_ = now;
        done_wire_bytes_ = c.ws_bytes_in;
        done_payload_bytes_ = c.ws_payload_bytes_in;
        done_frames_ = reader_frames_;
        return;
    }
    request_page(c, seqs_.last(), now);
}

void ReplayRun::on_message(Connection& c, const PhoenixFrame& f, int64_t now) {
    if (c.index == kWriter) {
        if (f.event == "message:new") ++echoes_;
        return;
    }
    ++reader_frames_;
    if (!sequenced_event(f.event)) {
        ++other_events_;
        return;
    }
    const int64_t seq = int_field(f.payload, "seq");
    seqs_.accept(seq);
    if (first_event_ns_ == 0) first_event_ns_ = now;
    if (done_ns_ == 0 && !history_mode() && seq == target_) {
        done_ns_ = now;
        done_wire_bytes_ = c.ws_bytes_in;
        done_payload_bytes_ = c.ws_payload_bytes_in;
        done_frames_ = reader_frames_;
    }
}

bool ReplayRun::run_until(ClientLoop& loop, int64_t deadline, bool (ReplayRun::*done)() const,
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
            std::printf("[%s] sends ok %llu / %llu; reader got %llu events, up to seq %lld\n",
                        label, static_cast<unsigned long long>(sent_ok_),
                        static_cast<unsigned long long>(quota_),
                        static_cast<unsigned long long>(seqs_.received),
                        static_cast<long long>(seqs_.last()));
            next_report = now + kNsPerSec;
        }
    }
    return true;
}

int ReplayRun::fail_result(ClientLoop& loop, const std::string& what) {
    std::fprintf(stderr, "error: %s\n", what.c_str());
    print_failures(loop);
    print_errors(errors_);
    if (!join_reply_.empty()) std::printf("  join reply: %s\n", join_reply_.c_str());
    emit_result(JsonObject()
                    .text("scenario", "replay")
                    .text("fetch", options_.fetch)
                    .flag("ok", false)
                    .text("error", what)
                    .integer("sends_ok", static_cast<int64_t>(sent_ok_))
                    .integer("events", static_cast<int64_t>(seqs_.received))
                    .integer("last_seq_received", seqs_.last())
                    .integer("duplicates", static_cast<int64_t>(seqs_.duplicates))
                    .integer("missing", static_cast<int64_t>(seqs_.missing))
                    .text("join_reply", join_reply_)
                    .object("failures", failures_json(loop)));
    return 1;
}

int ReplayRun::run(const Endpoint& endpoint) {
    if (!options_.topic.starts_with("chat:") || options_.topic.size() <= 5) {
        std::fprintf(stderr, "error: replay needs a chat:<conversation> --topic\n");
        return 2;
    }
    if (history_mode() && options_.live_messages > 0) {
        std::fprintf(stderr, "error: --live-messages applies to --fetch resume only\n");
        return 2;
    }
    ClientLoop loop(endpoint, *this, 2, loop_limits(options_));
    if (!loop.ok()) {
        std::fprintf(stderr, "error: %s\n", loop.error().c_str());
        return 2;
    }
    loop_ = &loop;
    const std::string writer = user_id(kWriter);
    const std::string reader = user_id(kReader);
    loop.conn(kWriter).topic_name = options_.topic;
    loop.conn(kReader).topic_name = options_.topic;
    std::string error;
    if (options_.create_conversations) {
        CreateResult created;
        const std::vector<ConversationSpec> specs{{options_.topic.substr(5), {writer, reader}}};
        if (!create_conversations(endpoint, options_.admin_token, specs, created, error)) {
            std::fprintf(stderr, "error: %s\n", error.c_str());
            return 2;
        }
        if (created.existed > 0) {
            std::printf(
                "[setup] warning: conversation %s already existed; its earlier events "
                "are in the replay too\n",
                specs[0].id.c_str());
        }
    }

    // Phase 1: the writer sends while the reader is offline.
    if (!establish(loop, kWriter, kWriter + 1, options_, "writer")) return 2;
    if (loop.failed() > 0) return fail_result(loop, "the writer could not join " + options_.topic);
    quota_ = options_.messages;
    const int64_t send_begin = now_ns();
    for (uint32_t w = 0; w < std::max<uint32_t>(options_.window, 1); ++w) {
        send_next(loop.conn(kWriter), send_begin);
    }
    if (!run_until(loop, send_begin + seconds_to_ns(options_.timeout_s), &ReplayRun::sends_done,
                   "send")) {
        return fail_result(loop, loop.failed() > 0 ? "the writer's connection was lost"
                                                   : "the sends did not finish within --timeout");
    }
    const double send_s = static_cast<double>(last_send_reply_ns_ - send_begin) / 1e9;
    std::printf(
        "send phase: %llu message:send to %s with %u in flight while %s is offline: %llu ok in "
        "%.3f s = %.0f sends/s; conversation now at seq %lld\n",
        static_cast<unsigned long long>(sent_), options_.topic.c_str(), options_.window,
        reader.c_str(), static_cast<unsigned long long>(sent_ok_), send_s,
        static_cast<double>(sent_ok_) / send_s, static_cast<long long>(last_written_seq_));
    print_latency("send to ok reply", send_latency_);
    if (sent_ok_ != options_.messages) return fail_result(loop, "some sends failed");
    // Let the storage writer settle (checkpoint) before the measured phase.
    poll_for(loop, 500 * kNsPerMs);

    // Phase 2: the reader catches up, --repeat times: each time a new connection with the
    // same last_seq, opened as soon as the previous catch-up ended and its socket closed.
    Connection& rc = loop.conn(kReader);
    if (!history_mode()) {
        rc.join_params =
            R"({"last_seq":)" + std::to_string(options_.last_seq) + R"(,"presence":false})";
    }
    struct Timing {
        double join_ms = 0;
        double first_ms = 0;
        double done_ms = 0;
    };
    std::vector<Timing> timings;
    bool range_ok = true;
    bool ends_ok = true;          // every catch-up ended exactly at its target seq
    uint64_t earlier_errors = 0;  // duplicates/missing/unparsed of catch-ups before the last
    const ProcessSample s0 = sample_server(options_);
    const int64_t self0 = self_cpu_ns();
    const int64_t begin = now_ns();
    for (uint32_t i = 0; i < std::max<uint32_t>(options_.repeat, 1); ++i) {
        if (i > 0) {
            earlier_errors += seqs_.errors();
            loop.close_gracefully(rc);
            if (!run_until(loop, now_ns() + 5 * kNsPerSec, &ReplayRun::reader_closed, "close")) {
                return fail_result(loop, "the reader's connection did not close");
            }
            reset_reader();
        }
        const int64_t seq_before = last_written_seq_;
        const int64_t iteration_begin = now_ns();
        if (!establish(loop, kReader, kReader + 1, options_, "reader")) return 2;
        if (loop.failed() > 0) {
            return fail_result(loop, "the reader could not join " + options_.topic);
        }
        if (!history_mode() && !recovered_) {
            return fail_result(loop, "the join did not recover (see the join reply)");
        }
        const bool finished =
            run_until(loop, iteration_begin + seconds_to_ns(options_.timeout_s),
                      &ReplayRun::catchup_done, history_mode() ? "history" : "replay");
        if (!finished) {
            return fail_result(
                loop,
                std::string(loop.failed() > 0 ? "a connection was lost"
                                              : "the catch-up did not finish within --timeout") +
                    " (reader at seq " + std::to_string(seqs_.last()) + ", target " +
                    std::to_string(target_) + ")");
        }
        timings.push_back({ms_between(rc.join_sent_ns, rc.joined_ns),
                           first_event_ns_ ? ms_between(rc.join_sent_ns, first_event_ns_) : 0,
                           ms_between(rc.join_sent_ns, done_ns_)});
        range_ok = range_ok &&
                   (history_mode() ? target_ == seq_before
                                   : from_seq_ == static_cast<int64_t>(options_.last_seq) + 1 &&
                                         to_seq_ == seq_before);
        ends_ok =
            ends_ok && seqs_.last() == (options_.live_messages > 0 ? last_written_seq_ : target_);
    }
    const int64_t end = now_ns();
    const ProcessSample s1 = sample_server(options_);
    const int64_t self1 = self_cpu_ns();
    // Anything pushed twice or late would arrive now.
    poll_for(loop, 500 * kNsPerMs);
    ends_ok = ends_ok && seqs_.last() == (options_.live_messages > 0 ? last_written_seq_ : target_);

    const auto median = [&timings](double Timing::*field) {
        std::vector<double> v;
        for (const Timing& t : timings) v.push_back(t.*field);
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const auto extreme = [&timings](bool max) {
        double x = timings.front().done_ms;
        for (const Timing& t : timings) x = max ? std::max(x, t.done_ms) : std::min(x, t.done_ms);
        return x;
    };
    const double join_ms = median(&Timing::join_ms);
    const double first_ms = median(&Timing::first_ms);
    const double done_ms = median(&Timing::done_ms);
    const int64_t expected = history_mode() ? target_ - static_cast<int64_t>(options_.last_seq)
                                            : to_seq_ - from_seq_ + 1;
    const double events_per_s = static_cast<double>(expected) / (done_ms / 1e3);
    if (history_mode()) done_frames_ = pages_;
    std::printf(
        "%zu catch-up(s); medians below; the last %s to the last event took %.2f ms "
        "(first run %.2f, min %.2f, max %.2f)\n",
        timings.size(), history_mode() ? "join" : "phx_join", done_ms, timings.front().done_ms,
        extreme(false), extreme(true));
    std::printf("join reply after %.2f ms: %s\n", join_ms, join_reply_.c_str());
    if (history_mode()) {
        std::printf(
            "history: %llu pages of up to %u (one request in flight) after seq %u: first page "
            "after %.2f ms, last after %.2f ms = %.0f messages/s\n",
            static_cast<unsigned long long>(pages_), options_.page, options_.last_seq, first_ms,
            done_ms, events_per_s);
        print_latency("history request to reply", page_latency_);
    } else {
        std::printf(
            "replay: seq %lld..%lld (%lld events): first event after %.2f ms, seq %lld (to_seq) "
            "after %.2f ms = %.0f events/s\n",
            static_cast<long long>(from_seq_), static_cast<long long>(to_seq_),
            static_cast<long long>(expected), first_ms, static_cast<long long>(to_seq_), done_ms,
            events_per_s);
    }
    std::printf(
        "bytes from the upgrade to the last %s: %llu WebSocket payload bytes, %llu with frame "
        "headers (%.1f per event) in %llu frames\n",
        history_mode() ? "page" : "event", static_cast<unsigned long long>(done_payload_bytes_),
        static_cast<unsigned long long>(done_wire_bytes_),
        static_cast<double>(done_wire_bytes_) / static_cast<double>(std::max<int64_t>(expected, 1)),
        static_cast<unsigned long long>(done_frames_));
    std::printf(
        "check (last catch-up): %llu sequenced events received, up to seq %lld; duplicates "
        "%llu, missing %llu, unparsed %llu; earlier catch-ups' errors %llu; join ranges %s; "
        "other frames %llu\n",
        static_cast<unsigned long long>(seqs_.received), static_cast<long long>(seqs_.last()),
        static_cast<unsigned long long>(seqs_.duplicates),
        static_cast<unsigned long long>(seqs_.missing),
        static_cast<unsigned long long>(seqs_.unparsed),
        static_cast<unsigned long long>(earlier_errors), range_ok ? "as expected" : "WRONG",
        static_cast<unsigned long long>(other_events_));
    if (options_.live_messages > 0) {
        std::printf(
            "live: %u more sends after the join reply; the reader got every seq up to "
            "%lld (last written %lld)\n",
            options_.live_messages, static_cast<long long>(seqs_.last()),
            static_cast<long long>(last_written_seq_));
    }
    print_errors(errors_);

    JsonObject result;
    result.text("scenario", "replay")
        .text("fetch", options_.fetch)
        .integer("messages", options_.messages)
        .integer("payload_bytes", options_.payload_bytes)
        .integer("base_seq", options_.last_seq)
        .num("send_s", send_s)
        .num("sends_per_s", static_cast<double>(sent_ok_) / send_s)
        .integer("repeat", static_cast<int64_t>(timings.size()))
        .num("join_ms", join_ms)
        .integer("from_seq", history_mode() ? options_.last_seq + 1 : from_seq_)
        .integer("to_seq", history_mode() ? target_ : to_seq_)
        .integer("events", expected)
        .num("first_event_ms", first_ms)
        .num("last_event_ms", done_ms)
        .num("last_event_ms_first_run", timings.front().done_ms)
        .num("last_event_ms_min", extreme(false))
        .num("last_event_ms_max", extreme(true))
        .num("events_per_s", events_per_s)
        .integer("ws_payload_bytes", static_cast<int64_t>(done_payload_bytes_))
        .integer("ws_wire_bytes", static_cast<int64_t>(done_wire_bytes_))
        .num("wire_bytes_per_event", static_cast<double>(done_wire_bytes_) /
                                         static_cast<double>(std::max<int64_t>(expected, 1)))
        .integer("frames", static_cast<int64_t>(done_frames_))
        .integer("received", static_cast<int64_t>(seqs_.received))
        .integer("duplicates", static_cast<int64_t>(seqs_.duplicates))
        .integer("missing", static_cast<int64_t>(seqs_.missing))
        .integer("unparsed", static_cast<int64_t>(seqs_.unparsed))
        .integer("earlier_errors", static_cast<int64_t>(earlier_errors))
        .flag("range_ok", range_ok)
        .integer("live_messages", options_.live_messages);
    if (history_mode()) {
        result.integer("pages", static_cast<int64_t>(pages_))
            .integer("page", options_.page)
            .object("page_latency_us", latency_json(page_latency_));
    }
    const CpuFigures cpu = cpu_between(s0, s1, end - begin);
    const double self_s = static_cast<double>(self1 - self0) / 1e9;
    const double cpu_us_per_event =
        cpu.cpu_s * 1e6 /
        static_cast<double>(std::max<int64_t>(expected, 1) * static_cast<int64_t>(timings.size()));
    if (cpu.ok) {
        std::printf(
            "server: %.3f s CPU over the %zu catch-up(s) (%.0f%% of a core over %.3f s) = %.2f "
            "core-us per event; RSS %.1f MiB (peak %.1f MiB); loadgen %.3f s CPU\n",
            cpu.cpu_s, timings.size(), cpu.pct, static_cast<double>(end - begin) / 1e9,
            cpu_us_per_event, s1.rss_kb / 1024.0, s1.hwm_kb / 1024.0, self_s);
        result.num("server_cpu_s", cpu.cpu_s)
            .num("server_cpu_pct", cpu.pct)
            .num("server_core_us_per_event", cpu_us_per_event)
            .integer("server_rss_kb", s1.rss_kb)
            .integer("server_hwm_kb", s1.hwm_kb);
    }
    result.num("loadgen_cpu_s", self_s);
    const bool ok = loop.failed() == 0 && errors_.empty() && seqs_.errors() == 0 &&
                    earlier_errors == 0 && range_ok && ends_ok;
    result.integer("connections_lost", static_cast<int64_t>(loop.failed())).flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------
// resume-storm

// A push of an "other" client: when it left, and whether its reply and its delivery came.
struct OtherPush {
    int64_t sent_ns = 0;
    int64_t reply_ns = 0;
    int64_t delivered_ns = 0;
};

class StormRun final : public ClientHandler {
  public:
    explicit StormRun(const Options& options)
        : options_(options),
          readers_(options.readers),
          writers_(options.conversations),
          others_(options.other_pairs),
          conv_last_(options.conversations, 0) {}
    int run(const Endpoint& endpoint);

    void on_join_reply(Connection& c, bool ok, std::string_view payload, int64_t now) override;
    void on_reply_payload(Connection& c, uint64_t ref, std::string_view payload) override;
    void on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) override;
    void on_message(Connection& c, const PhoenixFrame& f, int64_t now) override;

  private:
    struct Reader {
        SeqChecker seqs;
        int64_t resume_from = 0;  // last_seq sent in the storm join
        int64_t join_from = -1;   // from_seq / to_seq of the storm join reply
        int64_t join_to = -1;
        bool recovered = false;
        int64_t done_ns = 0;
        std::string bad_reply;
    };
    struct Writer {
        uint64_t quota = 0;
        uint64_t sent = 0;
        uint64_t replied = 0;
    };
    struct Other {
        int64_t next_send_ns = 0;
        std::vector<OtherPush> pushes;  // by ref - kFirstRef
    };
    // Slot: what happened in one kSlotNs of the storm timeline (from the storm's start until
    // the other clients stop).
    static constexpr int64_t kSlotNs = 100 * kNsPerMs;
    struct Slot {
        uint32_t joins = 0;          // storm join replies
        uint32_t done = 0;           // readers that got their last missed event
        uint64_t events = 0;         // replayed events received
        uint32_t other_replies = 0;  // other clients' send replies
        int64_t other_max_ns = 0;    // their longest push -> reply
        int64_t server_cpu_ns = -1;  // server CPU in the slot (-1: not sampled)
        int64_t loadgen_cpu_ns = -1;
    };
    Slot* slot(int64_t now);
    void sample_slot(int64_t now);
    void print_timeline() const;

    uint32_t readers() const { return options_.readers; }
    uint32_t convs() const { return options_.conversations; }
    size_t writer_index(uint32_t k) const { return readers() + k; }
    size_t other_index(uint32_t p) const { return readers() + convs() + 2 * size_t{p}; }
    uint32_t conv_of_reader(size_t i) const { return static_cast<uint32_t>(i % convs()); }
    bool is_reader(const Connection& c) const { return c.index < readers(); }
    bool is_writer(const Connection& c) const {
        return c.index >= readers() && c.index < readers() + convs();
    }
    // other_pair(c): the pair of an "other" client; its sender is the even one.
    uint32_t other_pair(const Connection& c) const { return (c.index - readers() - convs()) / 2; }
    bool is_other_sender(const Connection& c) const {
        return (c.index - readers() - convs()) % 2 == 0;
    }

    void writer_send(Connection& c, int64_t now);
    void start_writers(uint64_t per_writer, int64_t now);
    bool writers_done() const;
    bool readers_caught_up() const;  // every reader's last seq = its conversation's
    bool readers_closed() const { return loop_->closing() == 0; }
    bool storm_done() const { return storm_done_ == readers(); }
    bool others_drained() const;
    void pace_others(int64_t now);
    bool run_until(int64_t deadline, bool (StormRun::*done)() const, const char* label);
    void progress(const char* label);
    int fail_result(const std::string& what);

    const Options& options_;
    ClientLoop* loop_ = nullptr;
    std::string scratch_;
    std::map<std::string, uint64_t> errors_;
    std::vector<Reader> readers_;
    std::vector<Writer> writers_;
    std::vector<Other> others_;
    std::vector<int64_t> conv_last_;  // highest seq in a writer's ok reply, per conversation
    uint64_t writer_replies_ok_ = 0;
    uint64_t writer_echoes_ = 0;
    uint64_t other_frames_ = 0;
    uint64_t late_events_ = 0;  // sequenced events to a reader after it had caught up
    // Storm.
    bool storm_ = false;
    int64_t storm_begin_ = 0;
    int64_t storm_end_ = 0;
    uint32_t storm_done_ = 0;
    uint64_t storm_events_ = 0;
    uint64_t join_mismatches_ = 0;
    // Other clients.
    bool others_on_ = false;
    int64_t other_interval_ns_ = 0;
    uint64_t other_sent_ = 0;
    uint64_t other_replied_ = 0;
    uint64_t other_delivered_ = 0;
    uint64_t other_errors_ = 0;
    // Timeline.
    std::vector<Slot> slots_;
    size_t sampled_slots_ = 0;  // slots whose CPU figures are taken
    ProcessSample slot_server_{};
    int64_t slot_self_ = 0;
};

StormRun::Slot* StormRun::slot(int64_t now) {
    if (!storm_ || now < storm_begin_) return nullptr;
    const size_t i = static_cast<size_t>((now - storm_begin_) / kSlotNs);
    if (i >= 600) return nullptr;  // a minute is plenty
    if (slots_.size() <= i) slots_.resize(i + 1);
    return &slots_[i];
}

// sample_slot: at each slot boundary, the server's and the loadgen's CPU over the slot
// just ended (10 ms tick resolution: +-10% of a core per 100 ms slot).
void StormRun::sample_slot(int64_t now) {
    if (!storm_ || !others_on_) return;
    const size_t current = static_cast<size_t>((now - storm_begin_) / kSlotNs);
    if (current <= sampled_slots_ || current > 600) return;
    const ProcessSample p = sample_server(options_);
    const int64_t self = self_cpu_ns();
    if (p.ok && slot_server_.ok) {
        if (slots_.size() < current) slots_.resize(current);
        slots_[current - 1].server_cpu_ns = p.cpu_ns - slot_server_.cpu_ns;
        slots_[current - 1].loadgen_cpu_ns = self - slot_self_;
    }
    slot_server_ = p;
    slot_self_ = self;
    sampled_slots_ = current;
}

void StormRun::print_timeline() const {
    std::printf("timeline (100 ms slots from the storm's start; CPU sampled per slot, +-10%%):\n");
    std::printf("  %6s %6s %6s %8s %7s %10s %7s %7s\n", "t(s)", "joins", "done", "events", "others",
                "oth.max ms", "srv%", "lg%");
    for (size_t i = 0; i < slots_.size(); ++i) {
        const Slot& x = slots_[i];
        std::printf("  %6.1f %6u %6u %8llu %7u %10.1f %7.0f %7.0f\n",
                    static_cast<double>(i) * kSlotNs / 1e9, x.joins, x.done,
                    static_cast<unsigned long long>(x.events), x.other_replies,
                    static_cast<double>(x.other_max_ns) / 1e6,
                    x.server_cpu_ns < 0 ? -1.0 : 100.0 * x.server_cpu_ns / kSlotNs,
                    x.loadgen_cpu_ns < 0 ? -1.0 : 100.0 * x.loadgen_cpu_ns / kSlotNs);
    }
}

void StormRun::writer_send(Connection& c, int64_t now) {
    Writer& w = writers_[c.index - readers()];
    if (w.sent >= w.quota || c.state != ConnState::joined) return;
    scratch_.clear();
    append_push(scratch_, c.topic_name, c.next_ref++, now, options_.payload_bytes, c.index);
    loop_->send_text(c, scratch_);
    ++w.sent;
}

void StormRun::start_writers(uint64_t per_writer, int64_t now) {
    for (uint32_t k = 0; k < convs(); ++k) {
        Writer& w = writers_[k];
        w.quota += per_writer;
        Connection& c = loop_->conn(writer_index(k));
        for (uint32_t i = 0; i < std::max<uint32_t>(options_.window, 1); ++i) writer_send(c, now);
    }
}

bool StormRun::writers_done() const {
    return std::all_of(writers_.begin(), writers_.end(),
                       [](const Writer& w) { return w.replied >= w.quota; });
}

bool StormRun::readers_caught_up() const {
    for (size_t i = 0; i < readers(); ++i) {
        if (readers_[i].seqs.last() < conv_last_[conv_of_reader(i)]) return false;
    }
    return true;
}

bool StormRun::others_drained() const {
    return other_replied_ >= other_sent_ && other_delivered_ >= other_sent_;
}

void StormRun::on_join_reply(Connection& c, bool ok, std::string_view payload, int64_t now) {
    if (!is_reader(c)) return;
    Reader& r = readers_[c.index];
    if (!ok) {
        r.bad_reply.assign(payload.substr(0, 200));
        return;
    }
    if (!storm_) {
        // The first (fresh) join: the conversation's position is where this reader starts.
        const int64_t last = int_field(payload, "lastSeq");
        r.seqs.next = std::max<int64_t>(last, 0) + 1;
        return;
    }
    if (Slot* x = slot(now)) ++x->joins;
    r.recovered = has_true(payload, "recovered");
    r.join_from = int_field(payload, "from_seq");
    r.join_to = int_field(payload, "to_seq");
    const int64_t expected_to = conv_last_[conv_of_reader(c.index)];
    if (!r.recovered || r.join_from != r.resume_from + 1 || r.join_to != expected_to) {
        ++join_mismatches_;
        if (r.bad_reply.empty()) r.bad_reply.assign(payload.substr(0, 200));
    }
    if (r.seqs.last() >= expected_to && r.done_ns == 0) {  // nothing missed
        r.done_ns = now;
        ++storm_done_;
        if (Slot* x = slot(now)) ++x->done;
    }
}

void StormRun::on_reply_payload(Connection& c, uint64_t /*ref*/, std::string_view payload) {
    if (reply_ok(payload)) {
        if (is_writer(c)) {
            int64_t& last = conv_last_[c.index - readers()];
            last = std::max(last, int_field(payload, "seq"));
        }
        return;
    }
    const char* who = is_writer(c) ? "writer: " : is_reader(c) ? "reader: " : "other: ";
    ++errors_[who + std::string(payload.substr(0, 160))];
}

void StormRun::on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) {
    if (is_writer(c)) {
        ++writers_[c.index - readers()].replied;
        if (ok) ++writer_replies_ok_;
        writer_send(c, now);
        return;
    }
    if (is_reader(c)) return;
    if (!ok) ++other_errors_;
    Other& o = others_[other_pair(c)];
    if (ref >= kFirstRef && ref - kFirstRef < o.pushes.size()) {
        OtherPush& p = o.pushes[ref - kFirstRef];
        if (p.sent_ns > 0 && p.reply_ns == 0) {
            p.reply_ns = now;
            ++other_replied_;
            if (Slot* x = slot(now)) {
                ++x->other_replies;
                x->other_max_ns = std::max(x->other_max_ns, now - p.sent_ns);
            }
        }
    }
}

void StormRun::on_message(Connection& c, const PhoenixFrame& f, int64_t now) {
    if (is_reader(c)) {
        if (!sequenced_event(f.event)) {
            ++other_frames_;
            return;
        }
        Reader& r = readers_[c.index];
        const int64_t target = conv_last_[conv_of_reader(c.index)];
        if (r.done_ns > 0) ++late_events_;
        r.seqs.accept(int_field(f.payload, "seq"));
        if (!storm_) return;
        ++storm_events_;
        Slot* x = slot(now);
        if (x) ++x->events;
        if (r.done_ns == 0 && r.seqs.last() >= target) {
            r.done_ns = now;
            ++storm_done_;
            if (x) ++x->done;
        }
        return;
    }
    if (is_writer(c)) {
        if (f.event == "message:new") ++writer_echoes_;
        return;
    }
    if (f.event != "message:new") {
        ++other_frames_;
        return;
    }
    if (is_other_sender(c)) return;  // its own message:new
    // The receiver of a pair: the push is found by its clientMsgId "c<sender>-<ref>".
    const size_t at = f.payload.find("\"clientMsgId\":\"c");
    if (at == std::string_view::npos) {
        ++other_frames_;
        return;
    }
    std::string_view id = f.payload.substr(at + 16);
    const size_t dash = id.find('-');
    const size_t quote = id.find('"');
    if (dash == std::string_view::npos || quote == std::string_view::npos || dash > quote) {
        ++other_frames_;
        return;
    }
    const uint64_t ref = parse_ref(id.substr(dash + 1, quote - dash - 1));
    Other& o = others_[other_pair(c)];
    if (ref >= kFirstRef && ref - kFirstRef < o.pushes.size()) {
        OtherPush& p = o.pushes[ref - kFirstRef];
        if (p.sent_ns > 0 && p.delivered_ns == 0) {
            p.delivered_ns = now;
            ++other_delivered_;
        }
    }
}

void StormRun::pace_others(int64_t now) {
    if (!others_on_) return;
    for (uint32_t p = 0; p < options_.other_pairs; ++p) {
        Other& o = others_[p];
        Connection& c = loop_->conn(other_index(p));
        // At most a few overdue pushes per turn: a stalled loop must not turn into a burst.
        for (int n = 0; n < 4 && now >= o.next_send_ns && c.state == ConnState::joined; ++n) {
            scratch_.clear();
            const uint64_t ref = c.next_ref++;
            append_push(scratch_, c.topic_name, ref, now, options_.payload_bytes, c.index);
            loop_->send_text(c, scratch_);
            if (o.pushes.size() <= ref - kFirstRef) o.pushes.resize(ref - kFirstRef + 1);
            o.pushes[ref - kFirstRef].sent_ns = now;
            ++other_sent_;
            o.next_send_ns += other_interval_ns_;
        }
        if (now - o.next_send_ns > kNsPerSec) o.next_send_ns = now;  // fell far behind
    }
}

void StormRun::progress(const char* label) {
    std::printf(
        "[%s] joined %zu, in setup %zu, failed %zu; writer replies ok %llu; storm: %u of %u "
        "readers done, %llu events; others sent %llu, replied %llu, delivered %llu\n",
        label, loop_->joined(), loop_->pending(), loop_->failed(),
        static_cast<unsigned long long>(writer_replies_ok_), storm_done_, readers(),
        static_cast<unsigned long long>(storm_events_),
        static_cast<unsigned long long>(other_sent_),
        static_cast<unsigned long long>(other_replied_),
        static_cast<unsigned long long>(other_delivered_));
}

bool StormRun::run_until(int64_t deadline, bool (StormRun::*done)() const, const char* label) {
    int64_t next_tick = now_ns() + kTickNs;
    int64_t next_report = now_ns() + kNsPerSec;
    for (int64_t now = now_ns(); done == nullptr || !(this->*done)(); now = now_ns()) {
        if (now >= deadline) return done == nullptr;
        if (loop_->failed() > 0) return false;
        pace_others(now);
        loop_->poll(others_on_ ? 1 : 20);
        now = now_ns();
        sample_slot(now);
        if (now >= next_tick) {
            loop_->tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            progress(label);
            next_report = now + kNsPerSec;
        }
    }
    return true;
}

int StormRun::fail_result(const std::string& what) {
    std::fprintf(stderr, "error: %s\n", what.c_str());
    progress("fail");
    print_failures(*loop_);
    print_errors(errors_);
    uint32_t shown = 0;
    for (size_t i = 0; i < readers() && shown < 5; ++i) {
        const Reader& r = readers_[i];
        if (r.done_ns == 0 || !r.bad_reply.empty() || r.seqs.errors() > 0) {
            ++shown;
            std::printf(
                "  reader u%zu (conversation %u at seq %lld): at seq %lld, dup %llu, "
                "missing %llu, join reply %s\n",
                i, conv_of_reader(i), static_cast<long long>(conv_last_[conv_of_reader(i)]),
                static_cast<long long>(r.seqs.last()),
                static_cast<unsigned long long>(r.seqs.duplicates),
                static_cast<unsigned long long>(r.seqs.missing),
                r.bad_reply.empty() ? "-" : r.bad_reply.c_str());
        }
    }
    emit_result(JsonObject()
                    .text("scenario", "resume-storm")
                    .flag("ok", false)
                    .text("error", what)
                    .integer("readers_done", storm_done_)
                    .integer("storm_events", static_cast<int64_t>(storm_events_))
                    .object("failures", failures_json(*loop_)));
    return 1;
}

// Latency figures of the other clients' pushes sent in [from, to).
struct OtherFigures {
    Histogram reply;
    Histogram delivery;
    uint64_t pushes = 0;
};

int StormRun::run(const Endpoint& endpoint) {
    if (readers() == 0 || convs() == 0) {
        std::fprintf(stderr, "error: resume-storm needs --readers > 0 and --conversations > 0\n");
        return 2;
    }
    if (options_.other_pairs > 0 && options_.rate <= 0) {
        std::fprintf(stderr, "error: resume-storm needs --rate > 0 for the other clients\n");
        return 2;
    }
    const size_t total = size_t{readers()} + convs() + 2 * size_t{options_.other_pairs};
    std::string error;
    if (!check_fd_budget(total, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    ClientLoop loop(endpoint, *this, total, loop_limits(options_));
    if (!loop.ok()) {
        std::fprintf(stderr, "error: %s\n", loop.error().c_str());
        return 2;
    }
    loop_ = &loop;

    // Conversations: chat:storm-<k> (writer k and its readers), chat:other-<p> (a pair).
    std::vector<ConversationSpec> specs;
    for (uint32_t k = 0; k < convs(); ++k) {
        specs.push_back({"storm-" + std::to_string(k), {user_id(writer_index(k))}});
        loop.conn(writer_index(k)).topic_name = "chat:storm-" + std::to_string(k);
    }
    for (size_t i = 0; i < readers(); ++i) {
        specs[conv_of_reader(i)].members.push_back(user_id(i));
        loop.conn(i).topic_name = "chat:storm-" + std::to_string(conv_of_reader(i));
    }
    for (uint32_t p = 0; p < options_.other_pairs; ++p) {
        const size_t a = other_index(p);
        specs.push_back({"other-" + std::to_string(p), {user_id(a), user_id(a + 1)}});
        loop.conn(a).topic_name = "chat:other-" + std::to_string(p);
        loop.conn(a + 1).topic_name = loop.conn(a).topic_name;
    }
    if (options_.create_conversations) {
        CreateResult created;
        if (!create_conversations(endpoint, options_.admin_token, specs, created, error)) {
            std::fprintf(stderr, "error: %s\n", error.c_str());
            return 2;
        }
        std::printf("[setup] %zu conversations created (%zu existed) in %.2f s\n", created.created,
                    created.existed, created.seconds);
    }

    // 1. Everyone joins; readers fresh (no last_seq), learning the conversation's lastSeq.
    if (!establish(loop, 0, total, options_, "setup")) return 2;
    if (loop.failed() > 0) return fail_result("not every connection could join");
    const int64_t deadline_base = now_ns();

    // 2. Optional history the readers see live, so their last_seq is not 0.
    if (options_.history_messages > 0) {
        start_writers(options_.history_messages, now_ns());
        if (!run_until(deadline_base + seconds_to_ns(options_.timeout_s), &StormRun::writers_done,
                       "history")) {
            return fail_result("history sends did not finish");
        }
        if (!run_until(now_ns() + seconds_to_ns(options_.timeout_s), &StormRun::readers_caught_up,
                       "history")) {
            return fail_result("readers did not receive the history live");
        }
        std::printf("[history] %u messages per conversation sent and seen live by every reader\n",
                    options_.history_messages);
    }

    // 3. Readers go away (close frame 1000), keeping their last seq.
    for (size_t i = 0; i < readers(); ++i) loop.close_gracefully(loop.conn(i));
    if (!run_until(now_ns() + 10 * kNsPerSec, &StormRun::readers_closed, "close")) {
        return fail_result("readers did not close");
    }
    poll_for(loop, 200 * kNsPerMs);  // the server handles the closes before the sends

    // 4. Writers send --messages each while the readers are away.
    const int64_t send_begin = now_ns();
    start_writers(options_.messages, send_begin);
    if (!run_until(send_begin + seconds_to_ns(options_.timeout_s), &StormRun::writers_done,
                   "send")) {
        return fail_result("the sends did not finish within --timeout");
    }
    const double send_s = static_cast<double>(now_ns() - send_begin) / 1e9;
    const uint64_t missed_total = uint64_t{options_.messages} * readers();
    std::printf(
        "send phase: %u writers x %u messages in %.3f s while %u readers are away "
        "(%llu events to replay)\n",
        convs(), options_.messages, send_s, readers(),
        static_cast<unsigned long long>(missed_total));
    if (!errors_.empty()) return fail_result("error replies to sends");
    poll_for(loop, 500 * kNsPerMs);

    // 5. Other clients start; a warm-up second, then the baseline window.
    if (options_.other_pairs > 0) {
        other_interval_ns_ = static_cast<int64_t>(1e9 * options_.other_pairs / options_.rate);
        const int64_t t = now_ns();
        for (uint32_t p = 0; p < options_.other_pairs; ++p) {
            others_[p].next_send_ns = t + other_interval_ns_ * p / options_.other_pairs;
        }
        others_on_ = true;
    }
    run_until(now_ns() + kNsPerSec, nullptr, "warmup");
    const int64_t baseline_begin = now_ns();
    const ProcessSample b0 = sample_server(options_);
    run_until(baseline_begin + seconds_to_ns(options_.baseline_s), nullptr, "baseline");
    const int64_t baseline_end = now_ns();
    const ProcessSample b1 = sample_server(options_);
    if (loop.failed() > 0) return fail_result("a connection was lost before the storm");

    // 6. The storm: every reader reconnects and joins with its last_seq.
    std::vector<std::string> tokens(readers());
    for (size_t i = 0; i < readers(); ++i) {
        if (!make_token(options_.jwt_secret, user_id(i), tokens[i], error)) {
            std::fprintf(stderr, "error: cannot sign a token: %s\n", error.c_str());
            return 2;
        }
        Reader& r = readers_[i];
        r.resume_from = r.seqs.last();
        loop.conn(i).join_params =
            R"({"last_seq":)" + std::to_string(r.resume_from) + R"(,"presence":false})";
    }
    const ProcessSample s0 = sample_server(options_);
    const int64_t self0 = self_cpu_ns();
    storm_ = true;
    storm_begin_ = now_ns();
    slot_server_ = sample_server(options_);
    slot_self_ = self_cpu_ns();
    const int64_t storm_deadline = storm_begin_ + seconds_to_ns(options_.timeout_s);
    size_t next = 0;
    int64_t next_tick = storm_begin_ + kTickNs;
    int64_t next_report = storm_begin_ + kNsPerSec;
    int64_t last_start = storm_begin_;
    while (!storm_done()) {
        int64_t now = now_ns();
        if (now >= storm_deadline) break;
        while (next < readers() && loop.pending() < options_.max_pending) {
            loop.start(loop.conn(next), std::move(tokens[next]), now);
            ++next;
            last_start = now;
        }
        pace_others(now);
        loop.poll(1);
        now = now_ns();
        sample_slot(now);
        if (now >= next_tick) {
            loop.tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            progress("storm");
            next_report = now + kNsPerSec;
        }
        if (loop.failed() > 0) break;
    }
    storm_end_ = now_ns();
    const ProcessSample s1 = sample_server(options_);
    const int64_t self1 = self_cpu_ns();
    if (!storm_done()) {
        return fail_result(loop.failed() > 0 ? "a connection failed during the storm"
                                             : "the storm did not complete within --timeout");
    }
    // 7. One more second of the other clients' load (late or repeated events would show),
    // then they stop and their last pushes are drained.
    run_until(now_ns() + kNsPerSec, nullptr, "after");
    others_on_ = false;
    const bool drained = run_until(now_ns() + seconds_to_ns(std::max(options_.drain_s, 1.0)),
                                   &StormRun::others_drained, "drain");
    const ProcessSample s2 = sample_server(options_);

    // Figures.
    Histogram join_reply;    // phx_join sent -> reply
    Histogram connect_join;  // connect() -> join reply
    Histogram complete;      // storm start -> the reader's last missed event
    Histogram replay;        // join reply -> last missed event
    uint64_t dup = 0, missing = 0, unparsed = 0, not_recovered = 0, received = 0;
    int64_t last_join_ns = 0;
    uint64_t wire_bytes = 0;
    for (size_t i = 0; i < readers(); ++i) {
        const Reader& r = readers_[i];
        const Connection& c = loop.conn(i);
        join_reply.record(c.joined_ns - c.join_sent_ns);
        connect_join.record(c.joined_ns - c.started_ns);
        complete.record(r.done_ns - storm_begin_);
        replay.record(r.done_ns - c.joined_ns);
        last_join_ns = std::max(last_join_ns, c.joined_ns);
        dup += r.seqs.duplicates;
        missing += r.seqs.missing;
        unparsed += r.seqs.unparsed;
        received += r.seqs.received;
        if (!r.recovered) ++not_recovered;
        wire_bytes += c.ws_bytes_in;
    }
    // Each reader's SeqChecker also holds the history it saw live: errors there count too.
    const double storm_s = static_cast<double>(storm_end_ - storm_begin_) / 1e9;
    std::printf(
        "storm: %u readers reconnected (%u in setup at once) and resumed %u missed messages "
        "each: all done %.3f s after the first connect (last start at %.3f s, last join reply at "
        "%.3f s) = %.0f replayed events/s\n",
        readers(), std::min(options_.max_pending, readers()), options_.messages, storm_s,
        static_cast<double>(last_start - storm_begin_) / 1e9,
        static_cast<double>(last_join_ns - storm_begin_) / 1e9,
        static_cast<double>(storm_events_) / storm_s);
    print_latency("  reader phx_join to join reply", join_reply);
    print_latency("  reader connect to join reply", connect_join);
    print_latency("  reader join reply to its last missed event", replay);
    print_latency("  storm start to a reader's last missed event", complete);
    std::printf(
        "  check: %llu replayed events in the storm (%llu expected); over the run duplicates "
        "%llu, missing %llu, unparsed %llu; joins not recovered %llu, join range mismatches "
        "%llu; events after a reader was done %llu; readers' WebSocket bytes %llu (%.0f per "
        "replayed event)\n",
        static_cast<unsigned long long>(storm_events_),
        static_cast<unsigned long long>(missed_total), static_cast<unsigned long long>(dup),
        static_cast<unsigned long long>(missing), static_cast<unsigned long long>(unparsed),
        static_cast<unsigned long long>(not_recovered),
        static_cast<unsigned long long>(join_mismatches_),
        static_cast<unsigned long long>(late_events_), static_cast<unsigned long long>(wire_bytes),
        static_cast<double>(wire_bytes) /
            static_cast<double>(std::max<uint64_t>(storm_events_, 1)));

    // The other clients, by when each push was sent.
    OtherFigures base, during, after;
    uint64_t lost_replies = 0, lost_deliveries = 0;
    for (const Other& o : others_) {
        for (const OtherPush& p : o.pushes) {
            if (p.sent_ns == 0) continue;
            if (p.reply_ns == 0) ++lost_replies;
            if (p.delivered_ns == 0) ++lost_deliveries;
            OtherFigures* f = nullptr;
            if (p.sent_ns >= baseline_begin && p.sent_ns < baseline_end) {
                f = &base;
            } else if (p.sent_ns >= storm_begin_ && p.sent_ns <= storm_end_) {
                f = &during;
            } else if (p.sent_ns > storm_end_) {
                f = &after;
            }
            if (f == nullptr) continue;
            ++f->pushes;
            if (p.reply_ns) f->reply.record(p.reply_ns - p.sent_ns);
            if (p.delivered_ns) f->delivery.record(p.delivered_ns - p.sent_ns);
        }
    }
    JsonObject others_json;
    if (options_.other_pairs > 0) {
        std::printf(
            "other clients: %u pairs, %.0f message:send/s in total; sent %llu, replies "
            "missing %llu, deliveries missing %llu, error replies %llu\n",
            options_.other_pairs, options_.rate, static_cast<unsigned long long>(other_sent_),
            static_cast<unsigned long long>(lost_replies),
            static_cast<unsigned long long>(lost_deliveries),
            static_cast<unsigned long long>(other_errors_));
        const std::pair<const char*, OtherFigures*> windows[] = {
            {"baseline", &base}, {"storm", &during}, {"after", &after}};
        for (const auto& [name, f] : windows) {
            std::printf("  %s (%llu pushes):\n", name, static_cast<unsigned long long>(f->pushes));
            print_latency("    push to ok reply", f->reply);
            print_latency("    push to message:new at the other member", f->delivery);
            others_json.object(name, JsonObject()
                                         .integer("pushes", static_cast<int64_t>(f->pushes))
                                         .object("reply_us", latency_json(f->reply))
                                         .object("delivery_us", latency_json(f->delivery)));
        }
        others_json.integer("pairs", options_.other_pairs)
            .num("rate", options_.rate)
            .integer("sent", static_cast<int64_t>(other_sent_))
            .integer("replies_missing", static_cast<int64_t>(lost_replies))
            .integer("deliveries_missing", static_cast<int64_t>(lost_deliveries))
            .integer("errors", static_cast<int64_t>(other_errors_));
    }
    print_errors(errors_);
    print_timeline();

    JsonObject result;
    result.text("scenario", "resume-storm")
        .integer("readers", readers())
        .integer("conversations", convs())
        .integer("missed_per_reader", options_.messages)
        .integer("history_messages", options_.history_messages)
        .integer("max_pending", std::min(options_.max_pending, readers()))
        .num("send_s", send_s)
        .num("storm_s", storm_s)
        .num("last_join_reply_s", static_cast<double>(last_join_ns - storm_begin_) / 1e9)
        .integer("storm_events", static_cast<int64_t>(storm_events_))
        .num("storm_events_per_s", static_cast<double>(storm_events_) / storm_s)
        .object("join_reply_us", latency_json(join_reply))
        .object("connect_to_join_us", latency_json(connect_join))
        .object("replay_us", latency_json(replay))
        .object("complete_us", latency_json(complete))
        .integer("duplicates", static_cast<int64_t>(dup))
        .integer("missing", static_cast<int64_t>(missing))
        .integer("unparsed", static_cast<int64_t>(unparsed))
        .integer("not_recovered", static_cast<int64_t>(not_recovered))
        .integer("join_mismatches", static_cast<int64_t>(join_mismatches_))
        .integer("late_events", static_cast<int64_t>(late_events_))
        .integer("reader_ws_bytes", static_cast<int64_t>(wire_bytes))
        .object("others", others_json);
    const CpuFigures base_cpu = cpu_between(b0, b1, baseline_end - baseline_begin);
    const CpuFigures storm_cpu = cpu_between(s0, s1, storm_end_ - storm_begin_);
    const double self_s = static_cast<double>(self1 - self0) / 1e9;
    if (storm_cpu.ok && base_cpu.ok) {
        std::printf(
            "server: baseline %.0f%% of a core; storm %.3f s CPU (%.0f%% of a core); RSS %.1f "
            "MiB (peak %.1f MiB); loadgen %.3f s CPU over the storm (%.0f%%)\n",
            base_cpu.pct, storm_cpu.cpu_s, storm_cpu.pct, s2.rss_kb / 1024.0, s2.hwm_kb / 1024.0,
            self_s, 100 * self_s / storm_s);
        result.num("server_baseline_cpu_pct", base_cpu.pct)
            .num("server_storm_cpu_s", storm_cpu.cpu_s)
            .num("server_storm_cpu_pct", storm_cpu.pct)
            .integer("server_rss_kb", s2.rss_kb)
            .integer("server_hwm_kb", s2.hwm_kb);
    }
    result.num("loadgen_storm_cpu_s", self_s);
    const bool ok = loop.failed() == 0 && errors_.empty() && dup == 0 && missing == 0 &&
                    unparsed == 0 && not_recovered == 0 && join_mismatches_ == 0 &&
                    late_events_ == 0 && storm_events_ == missed_total && drained &&
                    lost_replies == 0 && lost_deliveries == 0 && other_errors_ == 0;
    result.integer("connections_lost", static_cast<int64_t>(loop.failed())).flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

}  // namespace

int run_replay(const Options& options) {
    if (options.messages == 0) {
        std::fprintf(stderr, "error: replay needs --messages > 0\n");
        return 2;
    }
    Endpoint endpoint;
    std::string error;
    if (!make_endpoint(options, endpoint, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    ReplayRun run(options);
    return run.run(endpoint);
}

int run_resume_storm(const Options& options) {
    Endpoint endpoint;
    std::string error;
    if (!make_endpoint(options, endpoint, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    StormRun run(options);
    return run.run(endpoint);
}

}  // namespace quckrt::bench
