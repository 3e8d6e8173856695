#include "phoenix.hpp"

#include <charconv>

namespace quckrt::bench {
namespace {

// Cursor over the frame text; each method consumes one token and reports success.
class Scanner {
  public:
    explicit Scanner(std::string_view s) : s_(s) {}

    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
            ++i_;
    }
    bool take(char c) {
        skip_ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    // string_or_null: a JSON string (contents returned raw) or the literal null.
    bool string_or_null(std::string_view& out, bool& is_null) {
        skip_ws();
        if (s_.substr(i_, 4) == "null") {
            i_ += 4;
            out = {};
            is_null = true;
            return true;
        }
        is_null = false;
        if (i_ >= s_.size() || s_[i_] != '"') return false;
        const size_t start = ++i_;
        while (i_ < s_.size() && s_[i_] != '"') i_ += (s_[i_] == '\\') ? 2 : 1;
        if (i_ >= s_.size()) return false;
        out = s_.substr(start, i_ - start);
        ++i_;
        return true;
    }
    size_t pos() const { return i_; }
    std::string_view text() const { return s_; }

  private:
    std::string_view s_;
    size_t i_ = 0;
};

void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

}  // namespace

bool parse_phoenix_frame(std::string_view text, PhoenixFrame& frame) {
    Scanner sc(text);
    bool topic_null = false;
    bool event_null = false;
    if (!sc.take('[') || !sc.string_or_null(frame.join_ref, frame.join_ref_null) || !sc.take(',') ||
        !sc.string_or_null(frame.ref, frame.ref_null) || !sc.take(',') ||
        !sc.string_or_null(frame.topic, topic_null) || topic_null || !sc.take(',') ||
        !sc.string_or_null(frame.event, event_null) || event_null || !sc.take(',')) {
        return false;
    }
    // The payload runs to the closing bracket; V2 allows extra elements after it, which the
    // bench never needs, so it is not split further.
    sc.skip_ws();
    const size_t close = text.find_last_of(']');
    if (close == std::string_view::npos || close < sc.pos()) return false;
    std::string_view payload = text.substr(sc.pos(), close - sc.pos());
    while (!payload.empty() && (payload.back() == ' ' || payload.back() == '\n'))
        payload.remove_suffix(1);
    frame.payload = payload;
    frame.text = text;
    return !payload.empty();
}

uint64_t parse_ref(std::string_view ref) {
    uint64_t v = 0;
    const auto r = std::from_chars(ref.data(), ref.data() + ref.size(), v);
    return (r.ec == std::errc() && r.ptr == ref.data() + ref.size()) ? v : 0;
}

bool reply_ok(std::string_view payload) {
    constexpr std::string_view kStatus = "\"status\":";
    const size_t at = payload.find(kStatus);
    if (at == std::string_view::npos) return false;
    std::string_view rest = payload.substr(at + kStatus.size());
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    return rest.substr(0, 4) == "\"ok\"";
}

int64_t extract_send_ts(std::string_view payload) {
    constexpr std::string_view kContent = "\"content\":\"T";
    const size_t at = payload.find(kContent);
    if (at == std::string_view::npos) return -1;
    const char* begin = payload.data() + at + kContent.size();
    int64_t v = 0;
    const auto r = std::from_chars(begin, payload.data() + payload.size(), v);
    return (r.ec == std::errc() && r.ptr != begin) ? v : -1;
}

void append_join(std::string& out, std::string_view topic, std::string_view params) {
    out += R"(["1","1",")";
    out += topic;
    out += R"(","phx_join",)";
    out += params;
    out += ']';
}

void append_heartbeat(std::string& out, uint64_t ref) {
    out += R"([null,")";
    append_uint(out, ref);
    out += R"(","phoenix","heartbeat",{}])";
}

void append_leave(std::string& out, std::string_view topic, uint64_t ref) {
    out += R"(["1",")";
    append_uint(out, ref);
    out += R"(",")";
    out += topic;
    out += R"(","phx_leave",{}])";
}

void append_push(std::string& out, std::string_view topic, uint64_t ref, int64_t send_ns,
                 uint32_t content_bytes, uint32_t connection) {
    out += R"(["1",")";
    append_uint(out, ref);
    out += R"(",")";
    out += topic;
    out += R"(","message:send",{"content":"T)";
    const size_t content_start = out.size() - 1;
    append_uint(out, static_cast<uint64_t>(send_ns));
    out += ':';
    const size_t used = out.size() - content_start;
    if (used < content_bytes) out.append(content_bytes - used, 'x');
    out += R"(","clientMsgId":"c)";
    append_uint(out, connection);
    out += '-';
    append_uint(out, ref);
    out += R"("}])";
}

}  // namespace quckrt::bench
