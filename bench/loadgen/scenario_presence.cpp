// presence: N users join one topic with presence on (join storm), then a share of them
// leave at once (leave storm). Each client follows its own presence view exactly as
// phoenix.js does: presence_state replaces the view (syncState), presence_diff applies its
// joins then its leaves by phx_ref (syncDiff), and diffs that arrive before the client's
// state are buffered and applied after it. A phase is over when every client it concerns
// holds exactly the expected set of users; its figure is the time from the phase's first
// frame sent (the first phx_join, the first phx_leave or close) to that moment.
//
// The join storm starts connections itself (at most --max-pending in setup at once, tokens
// signed beforehand), inside the phase's loop, so that --timeout bounds setup as well.
//
// Views are kept cheaply: refs and keys are interned once for the whole run (ids), and a
// view is a bitset of ref ids plus a bitset and a count of key ids. A presence_diff is
// broadcast as the same bytes to every subscriber, so a diff's payload is parsed once and
// its interned form reused by every client that receives the identical payload.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.hpp"
#include "presence_parse.hpp"
#include "scenarios.hpp"
#include "token.hpp"

namespace quckrt::bench {
namespace {

constexpr int64_t kTickNs = 200 * kNsPerMs;
// After a phase converged, the presence traffic it caused is over once the server has sent
// nothing for this long (the next phase then starts from a quiet server).
constexpr int64_t kQuietNs = 500 * kNsPerMs;
// Recent presence_diff payloads remembered with their interned form.
constexpr size_t kDiffCache = 32;
constexpr uint32_t kNoKey = UINT32_MAX;

using Bits = std::vector<uint64_t>;

bool test_bit(const Bits& b, uint32_t i) {
    const size_t w = i / 64;
    return w < b.size() && ((b[w] >> (i % 64)) & 1u);
}
// set_bit / clear_bit: return whether the bit changed.
bool set_bit(Bits& b, uint32_t i) {
    const size_t w = i / 64;
    if (w >= b.size()) b.resize(w + 1, 0);
    const uint64_t m = uint64_t{1} << (i % 64);
    if (b[w] & m) return false;
    b[w] |= m;
    return true;
}
bool clear_bit(Bits& b, uint32_t i) {
    const size_t w = i / 64;
    const uint64_t m = uint64_t{1} << (i % 64);
    if (w >= b.size() || !(b[w] & m)) return false;
    b[w] &= ~m;
    return true;
}
// same_bits(a, b): equal as sets (missing words count as zero).
bool same_bits(const Bits& a, const Bits& b) {
    const size_t common = std::min(a.size(), b.size());
    if (std::memcmp(a.data(), b.data(), common * sizeof(uint64_t)) != 0) return false;
    const Bits& longer = a.size() > b.size() ? a : b;
    for (size_t w = common; w < longer.size(); ++w) {
        if (longer[w] != 0) return false;
    }
    return true;
}

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using InternMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

// Ops: a presence_diff in interned form (ref ids; joins are applied before leaves).
struct Ops {
    std::vector<uint32_t> joins;
    std::vector<uint32_t> leaves;
};

// View: what one client believes is present on the topic.
struct View {
    Bits refs;
    Bits keys;
    uint32_t key_count = 0;
    bool have_state = false;
    bool tracked = false;    // the current phase waits for this client
    bool converged = false;  // holds exactly the expected users
    int64_t converged_ns = 0;
    std::vector<std::shared_ptr<const Ops>> buffered;  // diffs that came before the state
};

// Traffic: presence frames received by all clients.
struct Traffic {
    uint64_t state_frames = 0;
    uint64_t state_bytes = 0;
    uint64_t diff_frames = 0;
    uint64_t diff_bytes = 0;
    uint64_t other_frames = 0;  // user:online and the like
    uint64_t other_bytes = 0;
    uint64_t frames() const { return state_frames + diff_frames; }
    uint64_t bytes() const { return state_bytes + diff_bytes; }
    Traffic operator-(const Traffic& o) const {
        return {state_frames - o.state_frames, state_bytes - o.state_bytes,
                diff_frames - o.diff_frames,   diff_bytes - o.diff_bytes,
                other_frames - o.other_frames, other_bytes - o.other_bytes};
    }
};

// PhaseResult: the figures of one phase.
struct PhaseResult {
    std::string name;
    bool converged = false;
    uint32_t clients = 0;        // clients the phase waited for
    uint32_t not_converged = 0;  // at the end of the phase
    // Of those: how many had no presence_state yet, and the fewest and most users the
    // others held.
    uint32_t without_state = 0;
    uint32_t fewest_users = 0;
    uint32_t most_users = 0;
    uint32_t expected_users = 0;
    int64_t start_ns = 0;  // first phx_join / phx_leave / close sent
    int64_t end_ns = 0;    // the last client converged (or the phase gave up)
    Traffic at_start;      // the run's counters when the phase began
    Traffic traffic;       // from the phase's start to its convergence
    Traffic trailing;      // after convergence, until the server went quiet
    double quiet_wait_s = 0;
    bool stayed_converged = false;  // still exact once the server went quiet
    Histogram client_times;         // per client: phase start to its own convergence
    ProcessSample before;
    ProcessSample after;
    int64_t self_cpu_ns = 0;
};

class PresenceRun final : public ClientHandler {
  public:
    PresenceRun(const Options& options, uint32_t users) : options_(options), users_(users) {}
    int run(const Endpoint& endpoint);

    void on_joined(Connection& c, int64_t now) override;
    void on_reply(Connection& c, uint64_t ref, bool ok, int64_t now) override;
    void on_message(Connection& c, const PhoenixFrame& f, int64_t now) override;

  private:
    uint32_t intern_key(std::string_view key);
    // intern_ref(ref, key): the ref's id; a ref first seen (join or leave) is bound to its key.
    // kNoKey when the ref is already bound to another key (a server bug: refs are unique).
    uint32_t intern_ref(std::string_view ref, std::string_view key);
    std::shared_ptr<const Ops> diff_ops(std::string_view payload);
    void apply_state(View& v, std::string_view payload, Connection& c);
    void apply_ops(View& v, const Ops& ops);
    void add_ref(View& v, uint32_t ref);
    void remove_ref(View& v, uint32_t ref);
    void check(View& v, int64_t now);
    void anomaly(std::string what);
    void begin_phase(PhaseResult& p, const char* name);
    // wait_phase(p, tokens): polls until every tracked client converged, a tracked client
    // is lost, or --timeout passed since p.start_ns. With tokens (the join storm), it first
    // starts connection i with tokens[i], keeping at most --max-pending in setup.
    void wait_phase(PhaseResult& p, std::vector<std::string>* tokens = nullptr);
    void finish_phase(PhaseResult& p);
    void print_phase(const PhaseResult& p) const;
    JsonObject phase_json(const PhaseResult& p) const;
    uint32_t lost_tracked() const;

    const Options& options_;
    uint32_t users_;
    ClientLoop* loop_ = nullptr;
    std::vector<View> views_;
    Bits expected_;  // key ids of the users every tracked view must hold
    uint32_t expected_count_ = 0;
    uint32_t tracked_ = 0;
    uint32_t converged_ = 0;
    int64_t all_converged_ns_ = 0;  // when converged_ last reached tracked_

    InternMap key_ids_;
    InternMap ref_ids_;
    std::vector<uint32_t> ref_key_;                // ref id -> key id
    std::vector<std::vector<uint32_t>> key_refs_;  // key id -> ref ids ever seen for it
    struct CachedDiff {
        std::string payload;
        std::shared_ptr<const Ops> ops;
    };
    std::vector<CachedDiff> diff_cache_;
    size_t diff_cache_next_ = 0;
    uint64_t diff_cache_hits_ = 0;
    uint64_t diffs_parsed_ = 0;
    std::vector<PresenceMeta> metas_;
    std::vector<PresenceMeta> metas2_;
    std::string parse_error_;

    Traffic traffic_;
    std::map<std::string, uint64_t, std::less<>> other_events_;  // by event name, whole run
    uint64_t anomalies_ = 0;
    std::vector<std::string> anomaly_samples_;
    uint64_t leave_replies_ok_ = 0;
    uint64_t leave_replies_error_ = 0;
    int64_t first_join_sent_ns_ = 0;
    int64_t last_joined_ns_ = 0;  // the last join reply
    uint32_t started_ = 0;        // connections started by the join storm
};

void PresenceRun::anomaly(std::string what) {
    ++anomalies_;
    if (anomaly_samples_.size() < 5) anomaly_samples_.push_back(std::move(what));
}

uint32_t PresenceRun::intern_key(std::string_view key) {
    const auto it = key_ids_.find(key);
    if (it != key_ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(key_refs_.size());
    key_ids_.emplace(std::string(key), id);
    key_refs_.emplace_back();
    return id;
}

uint32_t PresenceRun::intern_ref(std::string_view ref, std::string_view key) {
    const uint32_t k = intern_key(key);
    const auto it = ref_ids_.find(ref);
    if (it != ref_ids_.end()) {
        if (ref_key_[it->second] == k) return it->second;
        anomaly("phx_ref " + std::string(ref) + " listed under two keys");
        return kNoKey;
    }
    const auto id = static_cast<uint32_t>(ref_key_.size());
    ref_ids_.emplace(std::string(ref), id);
    ref_key_.push_back(k);
    key_refs_[k].push_back(id);
    return id;
}

std::shared_ptr<const Ops> PresenceRun::diff_ops(std::string_view payload) {
    // Newest first: a client usually gets the diff the previous clients just got.
    for (size_t i = 0; i < diff_cache_.size(); ++i) {
        const CachedDiff& d =
            diff_cache_[(diff_cache_next_ + diff_cache_.size() - 1 - i) % diff_cache_.size()];
        if (d.payload.size() == payload.size() &&
            std::memcmp(d.payload.data(), payload.data(), payload.size()) == 0) {
            ++diff_cache_hits_;
            return d.ops;
        }
    }
    ++diffs_parsed_;
    metas_.clear();
    metas2_.clear();
    if (!parse_presence_diff(payload, metas_, metas2_, parse_error_)) {
        anomaly("unparsable presence_diff (" + parse_error_ +
                "): " + std::string(payload.substr(0, 120)));
        return nullptr;
    }
    auto ops = std::make_shared<Ops>();
    ops->joins.reserve(metas_.size());
    ops->leaves.reserve(metas2_.size());
    for (const PresenceMeta& m : metas_) {
        const uint32_t id = intern_ref(m.ref, m.key);
        if (id != kNoKey) ops->joins.push_back(id);
    }
    for (const PresenceMeta& m : metas2_) {
        const uint32_t id = intern_ref(m.ref, m.key);
        if (id != kNoKey) ops->leaves.push_back(id);
    }
    CachedDiff entry{std::string(payload), std::move(ops)};
    std::shared_ptr<const Ops> result = entry.ops;
    if (diff_cache_.size() < kDiffCache) {
        diff_cache_.push_back(std::move(entry));
        diff_cache_next_ = diff_cache_.size() % kDiffCache;
    } else {
        diff_cache_[diff_cache_next_] = std::move(entry);
        diff_cache_next_ = (diff_cache_next_ + 1) % kDiffCache;
    }
    return result;
}

void PresenceRun::add_ref(View& v, uint32_t ref) {
    if (!set_bit(v.refs, ref)) return;
    if (set_bit(v.keys, ref_key_[ref])) ++v.key_count;
}

void PresenceRun::remove_ref(View& v, uint32_t ref) {
    if (!clear_bit(v.refs, ref)) return;  // phoenix.js ignores leaves of refs it lacks
    const uint32_t k = ref_key_[ref];
    for (uint32_t other : key_refs_[k]) {
        if (test_bit(v.refs, other)) return;  // the key still has a meta
    }
    if (clear_bit(v.keys, k)) --v.key_count;
}

void PresenceRun::apply_ops(View& v, const Ops& ops) {
    for (uint32_t r : ops.joins) add_ref(v, r);
    for (uint32_t r : ops.leaves) remove_ref(v, r);
}

// apply_state: syncState(view, state) followed by syncDiff leaves each key with exactly the
// state's metas, so the view becomes the state; buffered diffs then apply in order.
void PresenceRun::apply_state(View& v, std::string_view payload, Connection& c) {
    metas_.clear();
    if (!parse_presence_map(payload, metas_, parse_error_)) {
        anomaly("unparsable presence_state on u" + std::to_string(c.index) + " (" + parse_error_ +
                "): " + std::string(payload.substr(0, 120)));
        return;
    }
    std::fill(v.refs.begin(), v.refs.end(), 0);
    std::fill(v.keys.begin(), v.keys.end(), 0);
    v.key_count = 0;
    for (const PresenceMeta& m : metas_) {
        const uint32_t id = intern_ref(m.ref, m.key);
        if (id != kNoKey) add_ref(v, id);
    }
    v.have_state = true;
    for (const auto& ops : v.buffered) apply_ops(v, *ops);
    v.buffered.clear();
    v.buffered.shrink_to_fit();
}

void PresenceRun::check(View& v, int64_t now) {
    if (!v.tracked) return;
    const bool ok = v.have_state && v.key_count == expected_count_ && same_bits(v.keys, expected_);
    if (ok == v.converged) return;
    v.converged = ok;
    if (ok) {
        v.converged_ns = now;
        if (++converged_ == tracked_) all_converged_ns_ = now;
    } else {
        --converged_;
    }
}

void PresenceRun::on_message(Connection& c, const PhoenixFrame& f, int64_t now) {
    const bool is_state = f.event == "presence_state";
    const bool is_diff = f.event == "presence_diff";
    if (is_state) {
        ++traffic_.state_frames;
        traffic_.state_bytes += f.text.size();
    } else if (is_diff) {
        ++traffic_.diff_frames;
        traffic_.diff_bytes += f.text.size();
    } else {
        ++traffic_.other_frames;
        traffic_.other_bytes += f.text.size();
        const auto it = other_events_.find(f.event);
        if (it == other_events_.end()) {
            other_events_.emplace(std::string(f.event), 1);
        } else {
            ++it->second;
        }
        return;
    }
    // After a leave (or while closing) the client has no channel any more: what the server
    // sent before it saw the leave is counted, not applied.
    if (c.state != ConnState::joined && c.state != ConnState::joining) return;
    View& v = views_[c.index];
    if (is_state) {
        if (f.join_ref != "1") {
            anomaly("presence_state with join_ref '" + std::string(f.join_ref) + "' on u" +
                    std::to_string(c.index));
            return;
        }
        apply_state(v, f.payload, c);
    } else {
        std::shared_ptr<const Ops> ops = diff_ops(f.payload);
        if (!ops) return;
        if (!v.have_state) {
            v.buffered.push_back(std::move(ops));
            return;
        }
        apply_ops(v, *ops);
    }
    check(v, now);
}

void PresenceRun::on_joined(Connection& c, int64_t now) {
    last_joined_ns_ = now;
    if (first_join_sent_ns_ == 0 || c.join_sent_ns < first_join_sent_ns_)
        first_join_sent_ns_ = c.join_sent_ns;
}

void PresenceRun::on_reply(Connection& c, uint64_t ref, bool ok, int64_t /*now*/) {
    if (ref != 0 && ref == c.leave_ref) ok ? ++leave_replies_ok_ : ++leave_replies_error_;
}

uint32_t PresenceRun::lost_tracked() const {
    uint32_t n = 0;
    for (size_t i = 0; i < views_.size(); ++i) {
        if (views_[i].tracked && loop_->conn(i).state == ConnState::failed) ++n;
    }
    return n;
}

void PresenceRun::begin_phase(PhaseResult& p, const char* name) {
    p.name = name;
    p.clients = tracked_;
    p.expected_users = expected_count_;
    p.at_start = traffic_;
    p.before = sample_server(options_);
    p.self_cpu_ns = self_cpu_ns();
}

void PresenceRun::wait_phase(PhaseResult& p, std::vector<std::string>* tokens) {
    const int64_t deadline = p.start_ns + seconds_to_ns(options_.timeout_s);
    int64_t next_tick = now_ns() + kTickNs;
    int64_t next_report = now_ns() + kNsPerSec;
    size_t failed_seen = 0;
    const auto n = static_cast<uint32_t>(views_.size());
    for (int64_t now = now_ns(); converged_ < tracked_ && now < deadline; now = now_ns()) {
        while (tokens && started_ < n && loop_->pending() < options_.max_pending) {
            loop_->start(loop_->conn(started_), std::move((*tokens)[started_]), now_ns());
            ++started_;
        }
        if (loop_->failed() != failed_seen) {
            failed_seen = loop_->failed();
            if (lost_tracked() > 0) break;  // that client can never converge
        }
        loop_->poll(10);
        if (now >= next_tick) {
            loop_->tick(now);
            next_tick = now + kTickNs;
        }
        if (now >= next_report) {
            const Traffic t = traffic_ - p.at_start;
            std::printf("[%s] %.1f s: ", p.name.c_str(),
                        static_cast<double>(now - p.start_ns) / 1e9);
            if (tokens) {
                std::printf("started %u, joined %zu, in setup %zu, failed %zu; ", started_,
                            loop_->joined(), loop_->pending(), loop_->failed());
            }
            std::printf("%u of %u clients converged; %llu presence frames, %.1f MiB\n", converged_,
                        tracked_, static_cast<unsigned long long>(t.frames()),
                        static_cast<double>(t.bytes()) / (1 << 20));
            next_report = now + kNsPerSec;
        }
    }
}

void PresenceRun::finish_phase(PhaseResult& p) {
    p.converged = converged_ == tracked_;
    p.not_converged = tracked_ - converged_;
    p.end_ns = p.converged ? all_converged_ns_ : now_ns();
    p.after = sample_server(options_);
    p.self_cpu_ns = self_cpu_ns() - p.self_cpu_ns;
    bool first = true;
    for (const View& v : views_) {
        if (!v.tracked) continue;
        if (v.converged) {
            p.client_times.record(v.converged_ns - p.start_ns);
        } else if (!v.have_state) {
            ++p.without_state;
        } else {
            p.fewest_users = first ? v.key_count : std::min(p.fewest_users, v.key_count);
            p.most_users = first ? v.key_count : std::max(p.most_users, v.key_count);
            first = false;
        }
    }
    if (!p.converged) return;
    // The phase's presence traffic may go on a little (diffs already queued, duplicates
    // of what states held); wait for it so the views can be checked once more at rest.
    const Traffic at_end = traffic_;
    const QuietResult q = wait_until_quiet(*loop_, kQuietNs, seconds_to_ns(options_.quiet_max_s));
    p.quiet_wait_s = q.waited_s;
    p.trailing = traffic_ - at_end;
    p.stayed_converged = p.converged && converged_ == tracked_;
}

void PresenceRun::print_phase(const PhaseResult& p) const {
    const double secs = static_cast<double>(p.end_ns - p.start_ns) / 1e9;
    if (p.converged) {
        std::printf("%s: all %u clients converged to %u users in %.3f s\n", p.name.c_str(),
                    p.clients, p.expected_users, secs);
    } else {
        std::printf(
            "%s: NOT CONVERGED after %.3f s: %u of %u clients do not hold exactly the %u "
            "expected users\n",
            p.name.c_str(), secs, p.not_converged, p.clients, p.expected_users);
        std::printf("  of those, %u had no presence_state yet; the others held %u to %u users\n",
                    p.without_state, p.fewest_users, p.most_users);
    }
    print_latency("  per-client convergence (from phase start)", p.client_times);
    std::printf(
        "  presence frames received by all clients: %llu presence_state (%.1f MiB), %llu "
        "presence_diff (%.1f MiB); %llu other (%.1f MiB)\n",
        static_cast<unsigned long long>(p.traffic.state_frames),
        static_cast<double>(p.traffic.state_bytes) / (1 << 20),
        static_cast<unsigned long long>(p.traffic.diff_frames),
        static_cast<double>(p.traffic.diff_bytes) / (1 << 20),
        static_cast<unsigned long long>(p.traffic.other_frames),
        static_cast<double>(p.traffic.other_bytes) / (1 << 20));
    if (p.converged) {
        std::printf(
            "  after convergence, until quiet (%.2f s): %llu presence frames (%.1f MiB), "
            "%llu other; views %s\n",
            p.quiet_wait_s, static_cast<unsigned long long>(p.trailing.frames()),
            static_cast<double>(p.trailing.bytes()) / (1 << 20),
            static_cast<unsigned long long>(p.trailing.other_frames),
            p.stayed_converged ? "still exact" : "NOT exact any more");
    }
    if (p.before.ok && p.after.ok) {
        const double cpu_s = static_cast<double>(p.after.cpu_ns - p.before.cpu_ns) / 1e9;
        std::printf(
            "  server: %.2f s CPU (%.0f%% of a core over the phase), RSS %.1f MiB, peak "
            "RSS %.1f MiB\n",
            cpu_s, secs > 0 ? 100 * cpu_s / secs : 0.0, p.after.rss_kb / 1024.0,
            p.after.hwm_kb / 1024.0);
    }
    const double self_pct = secs > 0 ? 100.0 * static_cast<double>(p.self_cpu_ns) / 1e9 / secs : 0;
    std::printf("  loadgen: %.2f s CPU (%.0f%% of a core)%s\n",
                static_cast<double>(p.self_cpu_ns) / 1e9, self_pct,
                self_pct > 90 ? " (the load generator may be the bottleneck)" : "");
}

JsonObject PresenceRun::phase_json(const PhaseResult& p) const {
    const double secs = static_cast<double>(p.end_ns - p.start_ns) / 1e9;
    JsonObject o;
    o.flag("converged", p.converged)
        .num("convergence_s", secs)
        .integer("clients", p.clients)
        .integer("not_converged", p.not_converged)
        .integer("not_converged_without_state", p.without_state)
        .integer("expected_users", p.expected_users)
        .object("client_convergence_us", latency_json(p.client_times))
        .integer("presence_frames", static_cast<int64_t>(p.traffic.frames()))
        .integer("presence_bytes", static_cast<int64_t>(p.traffic.bytes()))
        .integer("state_frames", static_cast<int64_t>(p.traffic.state_frames))
        .integer("state_bytes", static_cast<int64_t>(p.traffic.state_bytes))
        .integer("diff_frames", static_cast<int64_t>(p.traffic.diff_frames))
        .integer("diff_bytes", static_cast<int64_t>(p.traffic.diff_bytes))
        .integer("other_frames", static_cast<int64_t>(p.traffic.other_frames))
        .integer("trailing_presence_frames", static_cast<int64_t>(p.trailing.frames()))
        .integer("trailing_presence_bytes", static_cast<int64_t>(p.trailing.bytes()))
        .integer("trailing_other_frames", static_cast<int64_t>(p.trailing.other_frames))
        .flag("stayed_converged", p.stayed_converged)
        .num("loadgen_cpu_s", static_cast<double>(p.self_cpu_ns) / 1e9);
    if (p.before.ok && p.after.ok) {
        o.num("server_cpu_s", static_cast<double>(p.after.cpu_ns - p.before.cpu_ns) / 1e9)
            .integer("server_rss_kb", p.after.rss_kb)
            .integer("server_hwm_kb", p.after.hwm_kb);
    }
    return o;
}

int PresenceRun::run(const Endpoint& endpoint) {
    const uint32_t n = users_;
    const auto leavers = static_cast<uint32_t>(std::llround(n * options_.leave_fraction));
    std::string error;
    if (!check_fd_budget(n, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    ClientLoop loop(endpoint, *this, n, loop_limits(options_));
    if (!loop.ok()) {
        std::fprintf(stderr, "error: %s\n", loop.error().c_str());
        return 2;
    }
    loop_ = &loop;
    views_.resize(n);
    // Users u0..u<N-1> get key ids 0..N-1, so the expected sets are plain bit ranges.
    for (uint32_t i = 0; i < n; ++i) {
        loop.conn(i).topic_name = options_.topic;
        intern_key(user_id(i));
        set_bit(expected_, i);
        views_[i].tracked = true;
    }
    expected_count_ = tracked_ = n;
    std::printf("presence: %u users join %s with %s; then %u of them %s\n", n,
                options_.topic.c_str(), options_.join_params.c_str(), leavers,
                options_.leave_mode == "close" ? "close their connection" : "send phx_leave");

    // Phase 1: the join storm, connections set up in batches of --max-pending.
    PhaseResult join;
    // Tokens are signed before the clock starts, so signing never counts.
    std::vector<std::string> tokens(n);
    for (uint32_t i = 0; i < n; ++i) {
        if (!make_token(options_.jwt_secret, user_id(i), tokens[i], error)) {
            std::fprintf(stderr, "error: cannot sign a token: %s\n", error.c_str());
            return 2;
        }
    }
    begin_phase(join, "join storm");
    join.start_ns = now_ns();  // the deadline counts from the first connect
    wait_phase(join, &tokens);
    // The figure counts from the first phx_join (sent once its connection upgraded).
    const int64_t first_connect_ns = join.start_ns;
    if (first_join_sent_ns_ > 0) join.start_ns = first_join_sent_ns_;
    const double setup_s =
        last_joined_ns_ > 0 ? static_cast<double>(last_joined_ns_ - join.start_ns) / 1e9 : 0;
    std::printf(
        "join storm: %u of %u connections started, %zu joined, %zu in setup, %zu failed; "
        "the last join reply came %.2f s after the first phx_join (sent %.3f s after "
        "the first connect)\n",
        started_, n, loop.joined(), loop.pending(), loop.failed(), setup_s,
        static_cast<double>(join.start_ns - first_connect_ns) / 1e9);
    join.traffic = traffic_ - join.at_start;
    finish_phase(join);
    print_phase(join);

    PhaseResult leave;
    const bool run_leave = join.stayed_converged && loop.failed() == 0 && leavers > 0;
    if (run_leave) {
        std::vector<uint32_t> leaving;
        for (uint32_t i = 0; i < n; ++i) {
            // Leavers are spread evenly over the indices (every other one for 0.5).
            const bool leaves = (uint64_t{i + 1} * leavers) / n > (uint64_t{i} * leavers) / n;
            View& v = views_[i];
            if (leaves) {
                leaving.push_back(i);
                clear_bit(expected_, i);
                v.tracked = false;
                if (v.converged) --converged_;
                v.converged = false;
                --tracked_;
                --expected_count_;
            }
        }
        for (View& v : views_) {
            if (!v.tracked) continue;
            if (v.converged) --converged_;
            v.converged = false;
            check(v, now_ns());  // none can hold the new set yet, but check, not assume
        }
        begin_phase(leave, "leave storm");
        leave.start_ns = now_ns();
        for (uint32_t i : leaving) {
            Connection& c = loop.conn(i);
            if (options_.leave_mode == "close") {
                loop.close_gracefully(c);
            } else {
                loop.leave_channel(c);
            }
        }
        loop.flush();
        wait_phase(leave);
        leave.traffic = traffic_ - leave.at_start;
        finish_phase(leave);
        print_phase(leave);
    }

    // Result.
    const bool join_ok = join.converged && join.stayed_converged;
    const bool leave_ok = leavers == 0 || (leave.converged && leave.stayed_converged);
    const uint64_t leave_replies_missing =
        options_.leave_mode == "leave" && run_leave &&
                leave_replies_ok_ + leave_replies_error_ < leavers
            ? leavers - leave_replies_ok_ - leave_replies_error_
            : 0;
    std::printf("presence_diff payloads parsed %llu, reused %llu times\n",
                static_cast<unsigned long long>(diffs_parsed_),
                static_cast<unsigned long long>(diff_cache_hits_));
    if (options_.leave_mode == "leave" && run_leave) {
        std::printf("phx_leave replies: ok %llu, error %llu, missing %llu\n",
                    static_cast<unsigned long long>(leave_replies_ok_),
                    static_cast<unsigned long long>(leave_replies_error_),
                    static_cast<unsigned long long>(leave_replies_missing));
    }
    JsonObject others;
    std::string other_text;
    for (const auto& [event, count] : other_events_) {
        others.integer(event, static_cast<int64_t>(count));
        other_text += " " + event + " x" + std::to_string(count);
    }
    std::printf("other events received (whole run):%s\n",
                other_text.empty() ? " none" : other_text.c_str());
    if (anomalies_ > 0) {
        std::printf("protocol anomalies: %llu, e.g.\n",
                    static_cast<unsigned long long>(anomalies_));
        for (const std::string& a : anomaly_samples_) std::printf("  %s\n", a.c_str());
    }
    if (loop.failed() > 0) {
        std::printf("connections lost: %zu\n", loop.failed());
        print_failures(loop);
    }
    const bool ok = join_ok && leave_ok && loop.failed() == 0 && anomalies_ == 0 &&
                    leave_replies_error_ == 0 && leave_replies_missing == 0;
    JsonObject result;
    result.text("scenario", "presence")
        .integer("connections", n)
        .text("topic", options_.topic)
        .num("leave_fraction", options_.leave_fraction)
        .text("leave_mode", options_.leave_mode)
        .integer("leavers", leavers)
        .num("last_join_reply_s", setup_s)
        .object("join", phase_json(join));
    if (run_leave) result.object("leave", phase_json(leave));
    result.object("other_events", others)
        .integer("diffs_parsed", static_cast<int64_t>(diffs_parsed_))
        .integer("anomalies", static_cast<int64_t>(anomalies_))
        .integer("leave_replies_error", static_cast<int64_t>(leave_replies_error_))
        .integer("leave_replies_missing", static_cast<int64_t>(leave_replies_missing))
        .integer("connections_lost", static_cast<int64_t>(loop.failed()))
        .object("failures", failures_json(loop))
        .flag("ok", ok);
    emit_result(result);
    return ok ? 0 : 1;
}

}  // namespace

int run_presence(const Options& options) {
    const uint32_t n = options.connections;
    if (n == 0) {
        std::fprintf(stderr, "error: --connections must be > 0\n");
        return 2;
    }
    if (std::llround(n * options.leave_fraction) >= n) {
        std::fprintf(stderr, "error: --leave-fraction must leave at least one client\n");
        return 2;
    }
    Endpoint endpoint;
    std::string error;
    if (!make_endpoint(options, endpoint, error)) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        return 2;
    }
    PresenceRun run(options, n);
    return run.run(endpoint);
}

}  // namespace quckrt::bench
