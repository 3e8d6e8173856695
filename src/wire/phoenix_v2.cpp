#include "wire/phoenix_v2.hpp"

#include <cstdint>

namespace quckrt::wire {
namespace {

constexpr uint8_t kKindPush = 0;
constexpr uint8_t kKindReply = 1;
constexpr uint8_t kKindBroadcast = 2;

Result<std::string> raw_ref(const Json& v, const char* what) {
    std::string out;
    switch (v.type()) {
        case Json::Type::null:
            return std::string(kNullRef);
        case Json::Type::string:
        case Json::Type::integer:
        case Json::Type::number:
            v.dump_to(out);
            return out;
        default:
            return invalid_argument(std::string(what) + " must be null, a string or a number");
    }
}

// Opens `[join_ref,ref,topic,event,` and returns the buffer for the payload to follow.
std::string open_frame(std::string_view join_ref, std::string_view ref, std::string_view topic,
                       std::string_view event, size_t payload_hint) {
    std::string out;
    out.reserve(24 + join_ref.size() + ref.size() + topic.size() + event.size() + payload_hint);
    out += '[';
    out += join_ref;
    out += ',';
    out += ref;
    out += ',';
    append_json_string(out, topic);
    out += ',';
    append_json_string(out, event);
    out += ',';
    return out;
}

bool fits_byte(std::string_view s) { return s.size() <= 255; }

}  // namespace

std::string ref_text(std::string_view raw) {
    if (raw == kNullRef) return {};
    if (raw.size() >= 2 && raw.front() == '"') {
        auto parsed = Json::parse(raw);
        if (parsed && parsed->is_string()) return parsed->as_string();
    }
    return std::string(raw);
}

Result<InFrame> decode_text(std::string_view text) {
    auto parsed = Json::parse(text);
    if (!parsed) return invalid_argument("frame is not valid JSON");
    if (!parsed->is_array()) return invalid_argument("frame is not a JSON array");
    Json::Array& items = parsed->as_array();
    if (items.size() < 5) return invalid_argument("frame array has fewer than 5 elements");

    InFrame frame;
    auto join_ref = raw_ref(items[0], "join_ref");
    if (!join_ref) return join_ref.error();
    auto ref = raw_ref(items[1], "ref");
    if (!ref) return ref.error();
    if (!items[2].is_string() || items[2].as_string().empty())
        return invalid_argument("topic must be a non-empty string");
    if (!items[3].is_string() || items[3].as_string().empty())
        return invalid_argument("event must be a non-empty string");
    if (!items[4].is_object()) return invalid_argument("payload must be a JSON object");

    frame.join_ref = std::move(*join_ref);
    frame.ref = std::move(*ref);
    frame.topic = std::move(items[2].as_string());
    frame.event = std::move(items[3].as_string());
    frame.payload = std::move(items[4]);
    return frame;
}

Result<InFrame> decode_binary(std::string_view bytes) {
    if (bytes.size() < 5) return invalid_argument("binary frame shorter than its header");
    auto u = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
    if (u(0) != kKindPush) return invalid_argument("binary frame kind must be 0 (push)");
    const size_t jr_len = u(1), ref_len = u(2), topic_len = u(3), event_len = u(4);
    const size_t header = 5, fields = jr_len + ref_len + topic_len + event_len;
    if (header + fields > bytes.size())
        return invalid_argument("binary frame field lengths exceed the frame");
    size_t at = header;
    auto take = [&](size_t n) {
        std::string_view s = bytes.substr(at, n);
        at += n;
        return s;
    };
    std::string_view join_ref = take(jr_len), ref = take(ref_len), topic = take(topic_len),
                     event = take(event_len);
    if (topic.empty() || event.empty())
        return invalid_argument("binary frame topic and event must be non-empty");

    InFrame frame;
    frame.binary = true;
    if (!join_ref.empty()) {
        frame.join_ref.clear();
        append_json_string(frame.join_ref, join_ref);
    }
    if (!ref.empty()) {
        frame.ref.clear();
        append_json_string(frame.ref, ref);
    }
    frame.topic = std::string(topic);
    frame.event = std::string(event);
    frame.binary_payload = std::string(bytes.substr(at));
    return frame;
}

std::string encode_reply(std::string_view join_ref, std::string_view ref, std::string_view topic,
                         std::string_view status, const Json& response) {
    std::string out = open_frame(join_ref, ref, topic, "phx_reply", 64);
    out += "{\"status\":";
    append_json_string(out, status);
    out += ",\"response\":";
    response.dump_to(out);
    out += "}]";
    return out;
}

std::string encode_push(std::string_view join_ref, std::string_view topic, std::string_view event,
                        const Json& payload) {
    std::string out = open_frame(join_ref, kNullRef, topic, event, 64);
    payload.dump_to(out);
    out += ']';
    return out;
}

std::string encode_broadcast(std::string_view topic, std::string_view event, const Json& payload) {
    std::string out = open_frame(kNullRef, kNullRef, topic, event, 64);
    payload.dump_to(out);
    out += ']';
    return out;
}

std::string encode_close(std::string_view join_ref, std::string_view topic) {
    std::string out = open_frame(join_ref, join_ref, topic, "phx_close", 2);
    out += "{}]";
    return out;
}

std::string encode_error(std::string_view join_ref, std::string_view topic,
                         std::string_view reason) {
    std::string out = open_frame(join_ref, join_ref, topic, "phx_error", 24);
    out += "{\"reason\":";
    append_json_string(out, reason);
    out += "}]";
    return out;
}

Result<std::string> encode_binary_push(std::string_view join_ref, std::string_view topic,
                                       std::string_view event, std::string_view payload) {
    std::string jr = ref_text(join_ref);
    if (!fits_byte(jr) || !fits_byte(topic) || !fits_byte(event))
        return invalid_argument("binary push fields must be at most 255 bytes");
    std::string out;
    out.reserve(4 + jr.size() + topic.size() + event.size() + payload.size());
    out += static_cast<char>(kKindPush);
    out += static_cast<char>(jr.size());
    out += static_cast<char>(topic.size());
    out += static_cast<char>(event.size());
    out.append(jr).append(topic).append(event).append(payload);
    return out;
}

Result<std::string> encode_binary_reply(std::string_view join_ref, std::string_view ref,
                                        std::string_view topic, std::string_view status,
                                        std::string_view payload) {
    std::string jr = ref_text(join_ref), rf = ref_text(ref);
    if (!fits_byte(jr) || !fits_byte(rf) || !fits_byte(topic) || !fits_byte(status))
        return invalid_argument("binary reply fields must be at most 255 bytes");
    std::string out;
    out.reserve(5 + jr.size() + rf.size() + topic.size() + status.size() + payload.size());
    out += static_cast<char>(kKindReply);
    out += static_cast<char>(jr.size());
    out += static_cast<char>(rf.size());
    out += static_cast<char>(topic.size());
    out += static_cast<char>(status.size());
    out.append(jr).append(rf).append(topic).append(status).append(payload);
    return out;
}

Result<std::string> encode_binary_broadcast(std::string_view topic, std::string_view event,
                                            std::string_view payload) {
    if (!fits_byte(topic) || !fits_byte(event))
        return invalid_argument("binary broadcast fields must be at most 255 bytes");
    std::string out;
    out.reserve(3 + topic.size() + event.size() + payload.size());
    out += static_cast<char>(kKindBroadcast);
    out += static_cast<char>(topic.size());
    out += static_cast<char>(event.size());
    out.append(topic).append(event).append(payload);
    return out;
}

}  // namespace quckrt::wire
