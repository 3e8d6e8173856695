// A small parser for the two presence payloads (wire protocol §5), so that the bench can
// follow every client's presence view without a JSON library:
//   presence_state: {"u1":{"metas":[{"phx_ref":"F-3k...","device":"web"}, ...]}, ...}
//   presence_diff:  {"joins":{<same shape>},"leaves":{<same shape>}}
// Any other member (extra fields next to "metas", meta fields, nested values) is skipped,
// whatever its type. Keys and refs are returned raw, as sent (escapes not decoded): the
// server encodes a given string the same way every time, so raw text identifies it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace quckrt::bench {

// PresenceMeta: one meta of a presence map: the key it is listed under and its phx_ref.
// Both point into the parsed text.
struct PresenceMeta {
    std::string_view key;
    std::string_view ref;
};

// parse_presence_map(json, out, error): appends one PresenceMeta per meta of a presence map
// (a presence_state payload, or the joins / leaves of a diff). False, with error set, when
// json is not an object of objects or a meta has no string phx_ref.
bool parse_presence_map(std::string_view json, std::vector<PresenceMeta>& out, std::string& error);

// parse_presence_diff(json, joins, leaves, error): both "joins" and "leaves" must be there.
bool parse_presence_diff(std::string_view json, std::vector<PresenceMeta>& joins,
                         std::vector<PresenceMeta>& leaves, std::string& error);

}  // namespace quckrt::bench
