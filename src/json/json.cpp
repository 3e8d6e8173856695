// Json: accessors, mutation helpers and the compact writer. Parsing lives in json_parse.cpp,
// the only translation unit that includes simdjson.h (it is heavy to compile).

#include <quckrt/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace quckrt {
namespace {

const char* type_name(Json::Type type) {
    switch (type) {
        case Json::Type::null: return "null";
        case Json::Type::boolean: return "bool";
        case Json::Type::integer: return "integer";
        case Json::Type::number: return "double";
        case Json::Type::string: return "string";
        case Json::Type::array: return "array";
        case Json::Type::object: return "object";
    }
    return "unknown";
}

// A wrong-type access is a bug in the caller; say which call and which type so the abort is
// easy to trace without a debugger.
[[noreturn]] void die_wrong_type(const char* operation, Json::Type actual) {
    std::fprintf(stderr, "quckrt: Json::%s called on a %s value\n", operation, type_name(actual));
    std::fflush(stderr);
    std::abort();
}

constexpr char kHexDigits[] = "0123456789abcdef";

// Length of the well-formed UTF-8 sequence at s[i] (Unicode Table 3-7: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 with *skip set to the maximal ill-formed prefix
// to replace by one U+FFFD (the Unicode "maximal subpart" practice, same as browsers).
size_t utf8_sequence_length(std::string_view s, size_t i, size_t* skip) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char lead = byte(i);
    size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2;
        if (lead == 0xE0) lo = 0xA0;
        if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3;
        if (lead == 0xF0) lo = 0x90;
        if (lead == 0xF4) hi = 0x8F;
    } else {
        *skip = 1;
        return 0;
    }
    // The first continuation byte has the narrowed range, the others the full one.
    for (size_t k = 1; k <= need; ++k) {
        const unsigned char min = k == 1 ? lo : 0x80;
        const unsigned char max = k == 1 ? hi : 0xBF;
        if (i + k >= s.size() || byte(i + k) < min || byte(i + k) > max) {
            *skip = k;
            return 0;
        }
    }
    return need + 1;
}

void append_double(std::string& out, double d) {
    // JSON has no NaN or infinity; null is what JSON.stringify writes for them too.
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[64];
    // Shortest text that reads back to the same double.
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
    if (ec != std::errc()) {  // cannot happen with 64 bytes; stay valid JSON regardless
        out += "null";
        return;
    }
    out.append(buf, end);
    // "1" would read back as an integer; keep the type across a round trip.
    if (std::string_view(buf, static_cast<size_t>(end - buf)).find_first_of(".e") ==
        std::string_view::npos) {
        out += ".0";
    }
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    size_t run_start = 0;  // bytes in [run_start, i) need no escaping and are copied in bulk
    size_t i = 0;
    const auto flush = [&] { out.append(s.data() + run_start, i - run_start); };
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            size_t skip = 0;
            const size_t len = utf8_sequence_length(s, i, &skip);
            if (len != 0) {
                i += len;
                continue;
            }
            // Invalid UTF-8 from host code: a browser drops the whole connection on a text
            // frame that is not UTF-8, so replace the bad bytes rather than emit them.
            flush();
            out += "\xEF\xBF\xBD";
            i += skip;
            run_start = i;
            continue;
        }
        flush();
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += kHexDigits[c >> 4];
                out += kHexDigits[c & 0xF];
                break;
        }
        ++i;
        run_start = i;
    }
    flush();
    out += '"';
}

bool Json::as_bool() const {
    if (!is_bool()) die_wrong_type("as_bool", type());
    return std::get<bool>(v_);
}

int64_t Json::as_int() const {
    if (!is_integer()) die_wrong_type("as_int", type());
    return std::get<int64_t>(v_);
}

double Json::as_double() const {
    if (is_integer()) return static_cast<double>(std::get<int64_t>(v_));
    if (type() != Type::number) die_wrong_type("as_double", type());
    return std::get<double>(v_);
}

const std::string& Json::as_string() const {
    if (!is_string()) die_wrong_type("as_string", type());
    return std::get<std::string>(v_);
}

const Json::Array& Json::as_array() const {
    if (!is_array()) die_wrong_type("as_array", type());
    return std::get<Array>(v_);
}

Json::Array& Json::as_array() {
    if (!is_array()) die_wrong_type("as_array", type());
    return std::get<Array>(v_);
}

const Json::Object& Json::as_object() const {
    if (!is_object()) die_wrong_type("as_object", type());
    return std::get<Object>(v_);
}

Json::Object& Json::as_object() {
    if (!is_object()) die_wrong_type("as_object", type());
    return std::get<Object>(v_);
}

const Json* Json::find(std::string_view key) const {
    const auto* object = std::get_if<Object>(&v_);
    if (object == nullptr) return nullptr;
    for (const auto& [name, value] : *object) {
        if (name == key) return &value;
    }
    return nullptr;
}

Json* Json::find(std::string_view key) {
    return const_cast<Json*>(static_cast<const Json*>(this)->find(key));
}

std::string_view Json::get_string(std::string_view key, std::string_view fallback) const {
    const Json* value = find(key);
    return value != nullptr && value->is_string() ? std::string_view(value->as_string())
                                                  : fallback;
}

int64_t Json::get_int(std::string_view key, int64_t fallback) const {
    const Json* value = find(key);
    return value != nullptr && value->is_integer() ? value->as_int() : fallback;
}

bool Json::get_bool(std::string_view key, bool fallback) const {
    const Json* value = find(key);
    return value != nullptr && value->is_bool() ? value->as_bool() : fallback;
}

Json& Json::operator[](std::string_view key) {
    if (is_null()) v_ = Object{};
    if (!is_object()) die_wrong_type("operator[]", type());
    if (Json* value = find(key)) return *value;
    auto& object = std::get<Object>(v_);
    object.emplace_back(std::string(key), Json());
    return object.back().second;
}

Json& Json::set(std::string_view key, Json value) {
    if (is_null()) v_ = Object{};
    if (!is_object()) die_wrong_type("set", type());
    if (Json* existing = find(key)) {
        *existing = std::move(value);
    } else {
        std::get<Object>(v_).emplace_back(std::string(key), std::move(value));
    }
    return *this;
}

bool Json::erase(std::string_view key) {
    if (!is_object()) return false;
    Object& obj = std::get<Object>(v_);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (it->first == key) {
            obj.erase(it);
            return true;
        }
    }
    return false;
}

void Json::push_back(Json value) {
    if (is_null()) v_ = Array{};
    if (!is_array()) die_wrong_type("push_back", type());
    std::get<Array>(v_).push_back(std::move(value));
}

size_t Json::size() const {
    if (const auto* array = std::get_if<Array>(&v_)) return array->size();
    if (const auto* object = std::get_if<Object>(&v_)) return object->size();
    return 0;
}

std::string Json::dump() const {
    std::string out;
    dump_to(out);
    return out;
}

void Json::dump_to(std::string& out) const {
    switch (type()) {
        case Type::null: out += "null"; break;
        case Type::boolean: out += std::get<bool>(v_) ? "true" : "false"; break;
        case Type::integer: {
            char buf[24];
            const auto result = std::to_chars(buf, buf + sizeof(buf), std::get<int64_t>(v_));
            out.append(buf, result.ptr);
            break;
        }
        case Type::number: append_double(out, std::get<double>(v_)); break;
        case Type::string: append_json_string(out, std::get<std::string>(v_)); break;
        case Type::array: {
            out += '[';
            bool first = true;
            for (const Json& item : std::get<Array>(v_)) {
                if (!first) out += ',';
                first = false;
                item.dump_to(out);
            }
            out += ']';
            break;
        }
        case Type::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, value] : std::get<Object>(v_)) {
                if (!first) out += ',';
                first = false;
                append_json_string(out, key);
                out += ':';
                value.dump_to(out);
            }
            out += '}';
            break;
        }
    }
}

}  // namespace quckrt
