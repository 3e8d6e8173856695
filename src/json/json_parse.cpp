// Json::parse: simdjson's DOM parser validates (RFC 8259 grammar, UTF-8, escapes, surrogate
// pairs), then the tape is copied into a Json tree. This is the only translation unit that
// includes simdjson.h.

#include <quckrt/json.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace quckrt {
namespace {

// Our conversion, Json's destructor and dump() all recurse once per level; simdjson's own
// default limit keeps that well inside a loop thread's stack.
constexpr size_t kMaxSupportedDepth = simdjson::DEFAULT_MAX_DEPTH;

// A parser keeps buffers sized for the largest document it has seen. Keep them between calls
// (the common case is many small messages), but not after a rare huge one.
constexpr size_t kRetainedCapacity = size_t{1} << 20;

// Objects larger than this detect duplicate keys with a hash map instead of a scan, so a
// hostile object with many keys cannot make the conversion quadratic.
constexpr size_t kLinearKeyScanLimit = 16;

struct ParseState {
    simdjson::dom::parser parser;
    std::unique_ptr<char[]> buffer;  // the input copied with simdjson's read-ahead padding
    size_t buffer_size = 0;
};

// One parser per thread: parse() is called from every loop thread, and a dom::parser must
// not be shared.
ParseState& parse_state() {
    thread_local ParseState state;
    return state;
}

Status depth_error(size_t max_depth) {
    return invalid_argument("invalid JSON: nesting deeper than " + std::to_string(max_depth) +
                            " levels");
}

class Converter {
public:
    explicit Converter(size_t max_depth) : max_depth_(max_depth) {}

    // depth: containers enclosing `element`, so a top-level [] is at depth 1 once entered.
    bool convert(simdjson::dom::element element, size_t depth, Json& out) {
        switch (element.type()) {
            case simdjson::dom::element_type::ARRAY: {
                if (depth >= max_depth_) return false;
                simdjson::dom::array array = element.get_array().value_unsafe();
                Json::Array items;
                items.reserve(array.size());
                for (simdjson::dom::element child : array) {
                    items.emplace_back();
                    if (!convert(child, depth + 1, items.back())) return false;
                }
                out = Json(std::move(items));
                return true;
            }
            case simdjson::dom::element_type::OBJECT:
                if (depth >= max_depth_) return false;
                return convert_object(element.get_object().value_unsafe(), depth, out);
            case simdjson::dom::element_type::INT64:
                out = Json(element.get_int64().value_unsafe());
                return true;
            case simdjson::dom::element_type::UINT64:
                // simdjson only reports uint64 above INT64_MAX; JSON readers see a double.
                out = Json(static_cast<double>(element.get_uint64().value_unsafe()));
                return true;
            case simdjson::dom::element_type::DOUBLE:
                out = Json(element.get_double().value_unsafe());
                return true;
            case simdjson::dom::element_type::STRING:
                out = Json(element.get_string().value_unsafe());
                return true;
            case simdjson::dom::element_type::BOOL:
                out = Json(element.get_bool().value_unsafe());
                return true;
            case simdjson::dom::element_type::NULL_VALUE:
                out = Json();
                return true;
        }
        return false;
    }

private:
    bool convert_object(simdjson::dom::object object, size_t depth, Json& out) {
        Json::Object members;
        members.reserve(object.size());
        // Duplicate keys: the last value wins, at the first key's position, as JSON.parse in
        // a browser does. Keeping both would make find() and the client disagree. Small
        // objects scan; large ones use an index of views into `members`, rebuilt whenever
        // the vector reallocates (object.size() saturates for huge objects).
        std::unordered_map<std::string_view, size_t> index;
        const auto rebuild_index = [&] {
            index.clear();
            for (size_t i = 0; i < members.size(); ++i) index.emplace(members[i].first, i);
        };
        for (simdjson::dom::key_value_pair field : object) {
            Json value;
            if (!convert(field.value, depth + 1, value)) return false;
            Json* existing = nullptr;
            if (members.size() <= kLinearKeyScanLimit) {
                for (auto& member : members) {
                    if (member.first == field.key) {
                        existing = &member.second;
                        break;
                    }
                }
            } else {
                if (index.empty()) rebuild_index();
                const auto it = index.find(field.key);
                if (it != index.end()) existing = &members[it->second].second;
            }
            if (existing != nullptr) {
                *existing = std::move(value);
                continue;
            }
            const bool reallocates = members.size() == members.capacity();
            members.emplace_back(std::string(field.key), std::move(value));
            if (index.empty()) continue;
            if (reallocates) {
                rebuild_index();
            } else {
                index.emplace(members.back().first, members.size() - 1);
            }
        }
        out = Json(std::move(members));
        return true;
    }

    size_t max_depth_;
};

bool integer_exceeds_64_bits(std::string_view digits, bool negative) {
    constexpr std::string_view kMaxNegative = "9223372036854775808";
    constexpr std::string_view kMaxPositive = "18446744073709551615";
    const std::string_view limit = negative ? kMaxNegative : kMaxPositive;
    if (digits.size() != limit.size()) return digits.size() > limit.size();
    return digits > limit;
}

// simdjson refuses integer literals that do not fit 64 bits, but browsers write them
// (JSON.stringify(1e20) is "100000000000000000000") and every JS reader accepts them as
// doubles. Rewrite such literals as "<digits>.0" so simdjson reads a double. Only called after
// a number error, so ordinary documents never pay for this scan. nullopt: nothing to rewrite.
std::optional<std::string> widen_big_integers(std::string_view text) {
    std::string out;
    bool changed = false;
    size_t i = 0;
    const auto is_digit = [&](size_t k) {
        return k < text.size() && text[k] >= '0' && text[k] <= '9';
    };
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
            const size_t start = i++;
            while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
            i = std::min(i + 1, text.size());
            out.append(text.substr(start, i - start));
        } else if (c == '-' || is_digit(i)) {
            const size_t start = i;
            const bool negative = c == '-';
            if (negative) ++i;
            const size_t digits_start = i;
            while (is_digit(i)) ++i;
            const std::string_view digits = text.substr(digits_start, i - digits_start);
            const bool is_float =
                i < text.size() && (text[i] == '.' || text[i] == 'e' || text[i] == 'E');
            out.append(text.substr(start, i - start));
            if (!is_float && integer_exceeds_64_bits(digits, negative)) {
                out += ".0";
                changed = true;
            }
        } else {
            out += c;
            ++i;
        }
    }
    if (!changed) return std::nullopt;
    return out;
}

Status parse_error(simdjson::error_code error, size_t max_depth) {
    switch (error) {
        case simdjson::DEPTH_ERROR: return depth_error(max_depth);
        case simdjson::EMPTY: return invalid_argument("invalid JSON: empty input");
        case simdjson::UTF8_ERROR: return invalid_argument("invalid JSON: not valid UTF-8");
        case simdjson::CAPACITY: return invalid_argument("invalid JSON: document too large");
        case simdjson::MEMALLOC: return resource_exhausted("JSON parser out of memory");
        default:
            return invalid_argument(std::string("invalid JSON: ") +
                                    simdjson::error_message(error));
    }
}

simdjson::error_code parse_padded(ParseState& state, std::string_view text,
                                  simdjson::dom::element& root) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end; the caller's view promises
    // nothing there, so work on a padded copy (reused, so small messages do not allocate).
    const size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
    if (state.buffer_size < needed) {
        state.buffer = std::make_unique_for_overwrite<char[]>(needed);
        state.buffer_size = needed;
    }
    if (!text.empty()) std::memcpy(state.buffer.get(), text.data(), text.size());
    std::memset(state.buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return state.parser.parse(state.buffer.get(), text.size(), false).get(root);
}

}  // namespace

Result<Json> Json::parse(std::string_view text, size_t max_depth) {
    max_depth = std::min(max_depth, kMaxSupportedDepth);
    ParseState& state = parse_state();
    simdjson::dom::element root;
    simdjson::error_code error = parse_padded(state, text, root);
    std::optional<std::string> widened;
    if (error == simdjson::NUMBER_ERROR) {
        widened = widen_big_integers(text);
        if (widened) error = parse_padded(state, *widened, root);
    }
    Result<Json> result = Json();
    if (error) {
        result = parse_error(error, max_depth);
    } else {
        Json value;
        if (Converter(max_depth).convert(root, 0, value)) {
            result = std::move(value);
        } else {
            result = depth_error(max_depth);
        }
    }
    if (state.parser.capacity() > kRetainedCapacity || state.buffer_size > kRetainedCapacity) {
        state.parser = simdjson::dom::parser();
        state.buffer.reset();
        state.buffer_size = 0;
    }
    return result;
}

}  // namespace quckrt
