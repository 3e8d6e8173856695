// fanout and topics: publishers push message:send, the server broadcasts message:new to
// every subscriber of the topic, and each subscriber reads the send timestamp back out of
// the content to get end-to-end latency.
//
// Timeline: all connections join; publishing starts; after --warmup the measured window
// [t0, t1) of --duration begins; at t1 publishing stops and late deliveries are awaited for
// up to --drain. Throughput and server CPU cover receipts inside the window; latency and
// loss cover the messages sent inside it, wherever they arrive.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "admin_http.hpp"
#include "common.hpp"
#include "scenarios.hpp"
#include "token.hpp"

namespace quckrt::bench {
namespace {

constexpr int64_t kTickNs = 200 * kNsPerMs;
// Rate mode sends at most this many overdue pushes per loop turn, so a stalled server
// cannot make the bench spin on one turn.
constexpr int kMaxBurst = 4096;
// The drain ends early once no delivery or reply has arrived for this long.
constexpr int64_t kQuietNs = 1 * kNsPerSec;
// Setup counts as over once the server has sent nothing for this long.
constexpr int64_t kSetupQuietNs = 500 * kNsPerMs;

struct Plan {
    std::string name;
    uint32_t topics = 1;
    uint32_t per_topic = 0;   // subscribers per topic
    uint32_t publishers = 1;  // separate publisher connections
    bool members_publish = false;
    double rate = 0;  // publishes/s in total; 0 = window mode
    uint32_t window = 0;
    std::vector<std::string> topic_names;
};

class PubSubRun final : public ClientHandler {
  public:
    PubSubRun(const Options& options, Plan plan) : options_(options), plan_(std::move(plan)) {}
    int run(const Endpoint& endpoint);

    void on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) override;
    void on_message(Connection& c, const PhoenixFrame& f, int64_t now) override;

  private:
    void publish(Connection& c, int64_t now);
    void publish_due(int64_t now);
    // next_due(): when the next push is scheduled in rate mode.
    int64_t next_due() const {
        return rate_start_ +
               static_cast<int64_t>(static_cast<double>(rate_sent_) * 1e9 / plan_.rate);
    }
    void drain();
    int report(int64_t window_ns, const ProcessSample& s0, const ProcessSample& s1,
               int64_t self_cpu_ns);

    const Options& options_;
    Plan plan_;
    ClientLoop* loop_ = nullptr;
    std::vector<uint32_t> publisher_ids_;
    std::string scratch_;
    bool publishing_ = false;
    int64_t t0_ = 0;
    int64_t t1_ = 0;
    int64_t rate_start_ = 0;
    uint64_t rate_sent_ = 0;  // pushes scheduled so far in rate mode
    uint64_t published_ = 0;
    uint64_t published_window_ = 0;
    uint64_t replies_ok_ = 0;
    uint64_t replies_error_ = 0;
    uint64_t replies_ok_window_ = 0;  // ok replies received inside [t0, t1): with storage,
                                      // each is a message committed to the database
    uint64_t deliveries_ = 0;         // message:new on subscribers, any time
    uint64_t deliveries_window_ = 0;  // ... received inside [t0, t1)
    uint64_t window_received_ = 0;    // ... of messages sent inside [t0, t1)
    uint64_t echoes_ = 0;             // message:new on publishers
    std::map<std::string, uint64_t, std::less<>> other_events_;  // by event name
    QuietResult setup_quiet_;
    uint64_t unstamped_ = 0;        // message:new without a bench timestamp
    int64_t last_progress_ns_ = 0;  // last delivery or reply
    // Send time of every push still waiting for its reply, keyed by connection and ref.
    std::unordered_map<uint64_t, int64_t> awaiting_reply_;
    uint64_t unknown_replies_ = 0;
    Histogram latency_;
    Histogram reply_latency_;
    // Loop counters over the window: [0] at t0, [1] at t1.
    uint64_t reads_[2] = {0, 0};
    uint64_t frames_[2] = {0, 0};
    uint64_t wakeups_[2] = {0, 0};
};

void PubSubRun::publish(Connection& c, int64_t now) {
    if (c.state != ConnState::joined) return;
    scratch_.clear();
    append_push(scratch_, plan_.topic_names[c.topic], c.next_ref++, now, options_.payload_bytes,
                c.index);
    loop_->send_text(c, scratch_);
    awaiting_reply_.emplace((uint64_t{c.index} << 32) | (c.next_ref - 1), now);
    ++published_;
    if (now >= t0_ && now < t1_) ++published_window_;
}

void PubSubRun::publish_due(int64_t now) {
    for (int burst = 0; burst < kMaxBurst; ++burst) {
        if (next_due() > now) return;
        Connection& c = loop_->conn(publisher_ids_[rate_sent_ % publisher_ids_.size()]);
        ++rate_sent_;
        publish(c, now);
    }
}

void PubSubRun::on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) {
    ok ? ++replies_ok_ : ++replies_error_;
    if (ok && now >= t0_ && now < t1_) ++replies_ok_window_;
    last_progress_ns_ = now;
    const auto it = awaiting_reply_.find((uint64_t{c.index} << 32) | ref);
    if (it == awaiting_reply_.end()) {
        ++unknown_replies_;
    } else {
        reply_latency_.record(now - it->second);
        awaiting_reply_.erase(it);
    }
    if (publishing_ && plan_.rate == 0 && now < t1_) publish(c, now);
}

void PubSubRun::on_message(Connection& c, const PhoenixFrame& f, int64_t now) {
    if (f.event != "message:new") {
        const auto it = other_events_.find(f.event);
        if (it == other_events_.end()) {
            other_events_.emplace(std::string(f.event), 1);
        } else {
            ++it->second;
        }
        return;
    }
    if (c.role == Role::publisher) {
        ++echoes_;
        return;
    }
    ++deliveries_;
    last_progress_ns_ = now;
    if (now >= t0_ && now < t1_) ++deliveries_window_;
    const int64_t sent = extract_send_ts(f.payload);
    if (sent < 0) {
        ++unstamped_;
        return;
    }
    if (sent >= t0_ && sent < t1_) {
        ++window_received_;
        latency_.record(now - sent);
    }
}

void PubSubRun::drain() {
    const uint64_t expected = published_window_ * plan_.per_topic;
    const int64_t deadline = now_ns() + seconds_to_ns(options_.drain_s);
    int64_t next_tick = now_ns() + kTickNs;
    last_progress_ns_ = now_ns();
    for (int64_t now = now_ns();
         now < deadline && (window_received_ < expected || !awaiting_reply_.empty());
         now = now_ns()) {
        if (now - last_progress_ns_ > kQuietNs) break;
        loop_->poll(20);
        if (now >= next_tick) {
            loop_->tick(now);
            next_tick = now + kTickNs;
        }
    }
}

int PubSubRun::run(const Endpoint& endpoint) {
    const size_t subscribers = size_t{plan_.topics} * plan_.per_topic;
    const size_t total = subscribers + plan_.publishers;
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
    // Subscribers are spread over topics round-robin; publisher p pushes to topic p % T.
    for (size_t i = 0; i < total; ++i) {
        Connection& c = loop.conn(i);
        const bool pub = i >= subscribers;
        c.role = pub ? Role::publisher : Role::subscriber;
        c.topic = static_cast<uint32_t>((pub ? i - subscribers : i) % plan_.topics);
        c.topic_name = plan_.topic_names[c.topic];
        if (pub || plan_.members_publish) publisher_ids_.push_back(static_cast<uint32_t>(i));
    }
    if (options_.create_conversations) {
        std::vector<ConversationSpec> specs(plan_.topics);
        for (uint32_t t = 0; t < plan_.topics; ++t) {
            const std::string& name = plan_.topic_names[t];
            specs[t].id = name.starts_with("chat:") ? name.substr(5) : name;
        }
        for (size_t i = 0; i < total; ++i) {
            specs[loop.conn(i).topic].members.push_back(user_id(i));
        }
        CreateResult created;
        if (!create_conversations(endpoint, options_.admin_token, specs, created, error)) {
            std::fprintf(stderr, "error: %s\n", error.c_str());
            return 2;
        }
        std::printf("[setup] conversations: %zu created, %zu already there, in %.2f s\n",
                    created.created, created.existed, created.seconds);
    }
    if (!establish(loop, 0, total, options_, "setup")) return 2;
    if (loop.failed() > 0) {
        std::fprintf(stderr, "error: %zu of %zu connections failed during setup\n", loop.failed(),
                     total);
        print_failures(loop);
        emit_result(JsonObject()
                        .text("scenario", plan_.name)
                        .flag("ok", false)
                        .text("error", "setup failed")
                        .object("failures", failures_json(loop)));
        return 1;
    }
    setup_quiet_ = wait_until_quiet(loop, kSetupQuietNs, seconds_to_ns(options_.quiet_max_s));
    std::printf("[setup] %s after %.2f s; %llu frames arrived after the last join\n",
                setup_quiet_.quiet ? "server quiet" : "server still sending, starting anyway",
                setup_quiet_.waited_s, static_cast<unsigned long long>(setup_quiet_.frames));

    const int64_t start = now_ns();
    t0_ = start + seconds_to_ns(options_.warmup_s);
    t1_ = t0_ + seconds_to_ns(options_.duration_s);
    rate_start_ = start;
    publishing_ = true;
    if (plan_.rate == 0) {
        for (uint32_t id : publisher_ids_) {
            for (uint32_t w = 0; w < plan_.window; ++w) publish(loop.conn(id), start);
        }
    }
    ProcessSample s0;
    int64_t self0 = 0;
    bool sampled = false;
    int64_t next_tick = start + kTickNs;
    int64_t next_report = start + kNsPerSec;
    uint64_t last_deliveries = 0;
    for (int64_t now = start; now < t1_; now = now_ns()) {
        if (!sampled && now >= t0_) {
            s0 = sample_server(options_);
            self0 = self_cpu_ns();
            reads_[0] = loop.reads();
            frames_[0] = loop.frames();
            wakeups_[0] = loop.wakeups();
            sampled = true;
        }
        int64_t wait_ns = 50 * kNsPerMs;
        if (plan_.rate > 0) {
            publish_due(now);
            wait_ns = std::min(wait_ns, next_due() - now);
        }
        wait_ns = std::min(wait_ns, (sampled ? t1_ : t0_) - now);
        loop.poll(static_cast<int>(std::max<int64_t>(0, (wait_ns + kNsPerMs - 1) / kNsPerMs)));
        if (now >= next_tick) {
            loop.tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            std::printf(
                "[run] %.1f s: published %llu, deliveries %llu (+%llu/s), lost connections %zu\n",
                static_cast<double>(now - start) / 1e9, static_cast<unsigned long long>(published_),
                static_cast<unsigned long long>(deliveries_),
                static_cast<unsigned long long>(deliveries_ - last_deliveries), loop.failed());
            std::fflush(stdout);
            last_deliveries = deliveries_;
            next_report += kNsPerSec;
        }
    }
    const int64_t window_ns = now_ns() - t0_;
    const ProcessSample s1 = sample_server(options_);
    const int64_t self_cpu = self_cpu_ns() - self0;
    reads_[1] = loop.reads();
    frames_[1] = loop.frames();
    wakeups_[1] = loop.wakeups();
    publishing_ = false;
    drain();
    return report(window_ns, s0, s1, self_cpu);
}

int PubSubRun::report(int64_t window_ns, const ProcessSample& s0, const ProcessSample& s1,
                      int64_t self_cpu_ns) {
    const double window_s = static_cast<double>(window_ns) / 1e9;
    const uint64_t expected = published_window_ * plan_.per_topic;
    const uint64_t lost = expected > window_received_ ? expected - window_received_ : 0;
    const double offered =
        plan_.rate > 0 ? plan_.rate * plan_.per_topic : static_cast<double>(expected) / window_s;
    const double achieved = static_cast<double>(deliveries_window_) / window_s;
    const double self_pct =
        100.0 * static_cast<double>(self_cpu_ns) / static_cast<double>(window_ns);

    char pacing[64];
    if (plan_.rate > 0) {
        std::snprintf(pacing, sizeof pacing, "%g publishes/s", plan_.rate);
    } else {
        std::snprintf(pacing, sizeof pacing, "window %u per publisher", plan_.window);
    }
    std::printf(
        "%s: %u topic(s) x %u subscribers, %zu publishers%s, %s, %u-byte content, "
        "%.1f s measured after %.1f s warmup\n",
        plan_.name.c_str(), plan_.topics, plan_.per_topic, publisher_ids_.size(),
        plan_.members_publish ? " (the subscribers themselves)" : "", pacing,
        options_.payload_bytes, window_s, options_.warmup_s);
    std::printf("published in window: %llu (%.1f/s); replies ok %llu, error %llu\n",
                static_cast<unsigned long long>(published_window_),
                static_cast<double>(published_window_) / window_s,
                static_cast<unsigned long long>(replies_ok_),
                static_cast<unsigned long long>(replies_error_));
    std::printf("acknowledged (ok-replied) sends in window: %llu, %.1f/s\n",
                static_cast<unsigned long long>(replies_ok_window_),
                static_cast<double>(replies_ok_window_) / window_s);
    std::printf(
        "deliveries/s: offered %.0f, achieved %.0f; window messages: expected %llu "
        "deliveries, received %llu, lost %llu\n",
        offered, achieved, static_cast<unsigned long long>(expected),
        static_cast<unsigned long long>(window_received_), static_cast<unsigned long long>(lost));
    print_latency("latency", latency_);
    print_latency("push to reply", reply_latency_);
    if (!awaiting_reply_.empty() || unknown_replies_ > 0) {
        std::printf("replies: %zu pushes never got a reply, %llu replies matched no push\n",
                    awaiting_reply_.size(), static_cast<unsigned long long>(unknown_replies_));
    }
    JsonObject others;
    std::string other_text;
    for (const auto& [event, count] : other_events_) {
        others.integer(event, static_cast<int64_t>(count));
        other_text += " " + event + " x" + std::to_string(count);
    }
    if (echoes_ || unstamped_ || !other_events_.empty()) {
        std::printf(
            "also received: %llu message:new on publishers (not counted), %llu message:new "
            "without a timestamp; other events (setup included):%s\n",
            static_cast<unsigned long long>(echoes_), static_cast<unsigned long long>(unstamped_),
            other_text.empty() ? " none" : other_text.c_str());
    }
    JsonObject result;
    result.text("scenario", plan_.name)
        .integer("topics", plan_.topics)
        .integer("subscribers_per_topic", plan_.per_topic)
        .integer("publishers", static_cast<int64_t>(publisher_ids_.size()))
        .flag("members_publish", plan_.members_publish)
        .num("rate", plan_.rate)
        .integer("window", plan_.rate > 0 ? 0 : plan_.window)
        .integer("payload_bytes", options_.payload_bytes)
        .num("duration_s", window_s)
        .integer("published", static_cast<int64_t>(published_window_))
        .integer("replies_error", static_cast<int64_t>(replies_error_))
        .integer("acked_in_window", static_cast<int64_t>(replies_ok_window_))
        .num("acked_per_s", static_cast<double>(replies_ok_window_) / window_s)
        .num("offered_deliveries_per_s", offered)
        .num("achieved_deliveries_per_s", achieved)
        .integer("expected_deliveries", static_cast<int64_t>(expected))
        .integer("received_deliveries", static_cast<int64_t>(window_received_))
        .integer("lost_deliveries", static_cast<int64_t>(lost))
        .integer("publisher_echoes", static_cast<int64_t>(echoes_))
        .object("other_events", others)
        .num("setup_quiet_wait_s", setup_quiet_.waited_s)
        .integer("setup_trailing_frames", static_cast<int64_t>(setup_quiet_.frames))
        .flag("setup_quiet", setup_quiet_.quiet)
        .object("latency_us", latency_json(latency_))
        .object("reply_latency_us", latency_json(reply_latency_))
        .integer("replies_missing", static_cast<int64_t>(awaiting_reply_.size()))
        .num("loadgen_cpu_pct", self_pct);
    if (s0.ok && s1.ok) {
        const double cpu_s = static_cast<double>(s1.cpu_ns - s0.cpu_ns) / 1e9;
        const double core_us =
            deliveries_window_ ? cpu_s * 1e6 / static_cast<double>(deliveries_window_) : 0;
        std::printf(
            "server: %.2f s CPU in %.2f s (%.0f%% of a core), %.2f core-us per delivery, "
            "RSS %.1f MiB (peak %.1f MiB)\n",
            cpu_s, window_s, 100 * cpu_s / window_s, core_us, s1.rss_kb / 1024.0,
            s1.hwm_kb / 1024.0);
        result.num("server_cpu_s", cpu_s)
            .num("server_cpu_pct", 100 * cpu_s / window_s)
            .num("core_us_per_delivery", core_us)
            .integer("server_rss_kb", s1.rss_kb)
            .integer("server_hwm_kb", s1.hwm_kb);
    } else if (options_.server_pid > 0) {
        std::printf("server: process %d could not be read (did it exit?)\n", options_.server_pid);
    }
    const uint64_t reads = reads_[1] - reads_[0];
    const uint64_t frames = frames_[1] - frames_[0];
    const uint64_t wakeups = wakeups_[1] - wakeups_[0];
    const double frames_per_read =
        reads ? static_cast<double>(frames) / static_cast<double>(reads) : 0;
    std::printf(
        "loadgen: %.0f%% of a core, %.2f us per delivery; %llu reads (%.2f frames per read), "
        "%.1f reads per wakeup%s\n",
        self_pct,
        deliveries_window_
            ? static_cast<double>(self_cpu_ns) / 1e3 / static_cast<double>(deliveries_window_)
            : 0.0,
        static_cast<unsigned long long>(reads), frames_per_read,
        wakeups ? static_cast<double>(reads) / static_cast<double>(wakeups) : 0.0,
        self_pct > 90 ? " (the load generator may be the bottleneck)" : "");
    result.num("loadgen_frames_per_read", frames_per_read);
    const bool ok = loop_->failed() == 0 && lost == 0 && replies_error_ == 0 &&
                    awaiting_reply_.empty() && published_window_ > 0;
    if (loop_->failed() > 0) {
        std::printf("connections lost during the run: %zu\n", loop_->failed());
        print_failures(*loop_);
    }
    result.integer("connections_lost", static_cast<int64_t>(loop_->failed()))
        .object("failures", failures_json(*loop_))
        .flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

}  // namespace

int run_pubsub(const Options& options) {
    Plan plan;
    plan.name = options.scenario;
    if (options.scenario == "fanout") {
        plan.topics = 1;
        plan.per_topic = options.subscribers;
        plan.publishers = options.publishers ? options.publishers : 1;
        plan.rate = options.rate < 0 ? 200 : options.rate;
        plan.topic_names = {options.topic};
        if (plan.rate <= 0) {
            std::fprintf(stderr, "error: fanout needs --rate > 0\n");
            return 2;
        }
    } else {
        plan.topics = std::max<uint32_t>(options.topics, 1);
        plan.per_topic = options.subscribers_per_topic;
        plan.publishers = options.publishers ? options.publishers : plan.topics;
        plan.rate = options.rate < 0 ? 0 : options.rate;
        plan.window = std::max<uint32_t>(options.window, 1);
        plan.members_publish = options.members_publish;
        if (plan.members_publish) plan.publishers = 0;
        for (uint32_t t = 0; t < plan.topics; ++t) {
            plan.topic_names.push_back(options.topic + "-" + std::to_string(t));
        }
    }
    if (plan.per_topic == 0) {
        std::fprintf(stderr, "error: need at least one subscriber per topic\n");
        return 2;
    }
    Options resolved = options;
    if (resolved.duration_s < 0) resolved.duration_s = 10;
    Endpoint endpoint;
    std::string error;
    if (!make_endpoint(resolved, endpoint, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    PubSubRun run(resolved, std::move(plan));
    return run.run(endpoint);
}

}  // namespace quckrt::bench
