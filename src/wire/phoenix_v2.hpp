// Phoenix Channels V2 serializer: `[join_ref, ref, topic, event, payload]` text frames and
// the binary kinds (0 push, 1 reply, 2 broadcast). See shared/docs/phoenix-wire-protocol.md.
//
// Refs are kept as raw JSON tokens ("null", "\"4\"", "4") because the client matches them
// by value and Phoenix echoes exactly what it got: a numeric ref must come back numeric.
#pragma once

#include <string>
#include <string_view>

#include <quckrt/json.hpp>
#include <quckrt/status.hpp>

namespace quckrt::wire {

inline constexpr std::string_view kNullRef = "null";

// InFrame: one decoded client message.
struct InFrame {
    std::string join_ref = "null";  // raw JSON token
    std::string ref = "null";       // raw JSON token
    std::string topic;
    std::string event;
    Json payload;                   // object for text frames; null for binary
    std::string binary_payload;     // the raw bytes of a binary push
    bool binary = false;
};

// is_null_ref(raw): whether a raw ref token is JSON null.
inline bool is_null_ref(std::string_view raw) { return raw == kNullRef; }

// decode_text(text): a V2 JSON text frame. The array may have more than five elements (the
// extra ones are ignored, as Phoenix does). Fails with invalid_argument saying what is wrong:
// not JSON, not an array, fewer than five elements, a ref that is not null/string/number,
// a topic or event that is not a non-empty string, a payload that is not an object.
Result<InFrame> decode_text(std::string_view text);

// decode_binary(bytes): a binary client push (kind 0 with its 5-byte header). Any other
// kind, a short header or lengths beyond the frame fail with invalid_argument.
Result<InFrame> decode_binary(std::string_view bytes);

// Text encoders. `payload`/`response` must be objects (checked by callers).
std::string encode_reply(std::string_view join_ref, std::string_view ref, std::string_view topic,
                         std::string_view status, const Json& response);
std::string encode_push(std::string_view join_ref, std::string_view topic, std::string_view event,
                        const Json& payload);
std::string encode_broadcast(std::string_view topic, std::string_view event, const Json& payload);
// phx_close carries the join ref as both join_ref and ref (a Phoenix quirk clients rely on).
std::string encode_close(std::string_view join_ref, std::string_view topic);
std::string encode_error(std::string_view join_ref, std::string_view topic,
                         std::string_view reason);

// Binary encoders (server -> client layouts). Each string field is at most 255 bytes; a
// longer one fails with invalid_argument instead of being truncated. A null join_ref is sent
// as an empty field.
Result<std::string> encode_binary_push(std::string_view join_ref, std::string_view topic,
                                       std::string_view event, std::string_view payload);
Result<std::string> encode_binary_reply(std::string_view join_ref, std::string_view ref,
                                        std::string_view topic, std::string_view status,
                                        std::string_view payload);
Result<std::string> encode_binary_broadcast(std::string_view topic, std::string_view event,
                                            std::string_view payload);

// ref_text(raw): the string a raw ref token stands for (`"4"` -> 4, `4` -> 4, null -> ""),
// used for binary frames, which carry refs as plain strings.
std::string ref_text(std::string_view raw);

}  // namespace quckrt::wire
