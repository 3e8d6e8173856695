// Phoenix Channels V2 JSON, only as much as the bench needs: the frames it sends, and a
// scan of received frames for the refs, topic, event and the send timestamp. A full JSON
// parse per delivery would cost more than the server's work per delivery, so received
// frames are never parsed beyond the five-element header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace quckrt::bench {

// Every connection joins exactly one topic, always with join_ref "1"; message and
// heartbeat refs count up from kFirstRef on the same connection.
constexpr uint64_t kJoinRef = 1;
constexpr uint64_t kFirstRef = 2;

// PhoenixFrame: views into one received text frame `[join_ref, ref, topic, event, payload]`.
// String elements are given without quotes (escapes left as they are); null ones are empty
// with the *_null flag set.
struct PhoenixFrame {
    std::string_view join_ref;
    std::string_view ref;
    std::string_view topic;
    std::string_view event;
    std::string_view payload;  // the raw JSON text of the fifth element
    std::string_view text;     // the whole message
    bool join_ref_null = false;
    bool ref_null = false;
};

// parse_phoenix_frame(text, frame): false when text is not a five-element V2 array.
bool parse_phoenix_frame(std::string_view text, PhoenixFrame& frame);

// parse_ref(ref): the decimal value of a ref the bench sent, or 0 when it is not one.
uint64_t parse_ref(std::string_view ref);

// reply_ok(payload): whether a phx_reply payload has "status":"ok".
bool reply_ok(std::string_view payload);

// extract_send_ts(payload): the CLOCK_MONOTONIC ns a bench publisher put at the start of
// "content" (as "T<ns>:..."), or -1 when there is none.
int64_t extract_send_ts(std::string_view payload);

void append_join(std::string& out, std::string_view topic, std::string_view params);
void append_heartbeat(std::string& out, uint64_t ref);
// append_leave: phx_leave of topic (join_ref "1") with the given ref.
void append_leave(std::string& out, std::string_view topic, uint64_t ref);
// append_push: a message:send whose content is "T<send_ns>:" padded with 'x' to
// content_bytes (never shorter than the timestamp itself), with a unique clientMsgId
// "c<connection>-<ref>".
void append_push(std::string& out, std::string_view topic, uint64_t ref, int64_t send_ns,
                 uint32_t content_bytes, uint32_t connection);

}  // namespace quckrt::bench
