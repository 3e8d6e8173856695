// quckrt/json.hpp
//
// Json: the value type of every payload a channel receives, replies with, pushes or
// broadcasts. It is a small owning tree (null, bool, integer, double, string, array,
// object). Objects keep their keys in insertion order, so what a handler builds is what the
// client sees. Parsing is strict RFC 8259 (simdjson underneath) with a depth limit; dumping
// produces compact JSON with valid escapes.
//
// Thread affinity: a plain value; a const Json may be read from several threads at once.
//
// Example:
//   quckrt::Json reply = quckrt::Json::object({{"id", "m1"}, {"count", 3}});
//   reply["tags"] = quckrt::Json::array({"a", "b"});
//   std::string text = reply.dump();   // {"id":"m1","count":3,"tags":["a","b"]}
//   auto parsed = quckrt::Json::parse(text);
//   if (parsed && parsed->is_object()) { const Json* id = parsed->find("id"); }
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <quckrt/status.hpp>

namespace quckrt {

class Json {
public:
    using Array = std::vector<Json>;
    using Member = std::pair<std::string, Json>;
    using Object = std::vector<Member>;

    enum class Type { null, boolean, integer, number, string, array, object };

    Json() = default;                      // null
    Json(std::nullptr_t) {}                // null
    Json(bool b) : v_(b) {}                // NOLINT: implicit on purpose, like a literal
    Json(int i) : v_(int64_t{i}) {}        // NOLINT
    Json(int64_t i) : v_(i) {}             // NOLINT
    Json(uint32_t i) : v_(int64_t{i}) {}   // NOLINT
    // Any other integer type (long long, size_t, short, ...), so that Json(size_t) is not
    // ambiguous. Unsigned values above INT64_MAX become doubles: JSON clients read numbers
    // as doubles anyway, and a wrapped negative would be silently wrong.
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    Json(T i) {  // NOLINT
        if constexpr (std::is_signed_v<T>) {
            v_.emplace<int64_t>(static_cast<int64_t>(i));
        } else if (static_cast<uint64_t>(i) <= static_cast<uint64_t>(INT64_MAX)) {
            v_.emplace<int64_t>(static_cast<int64_t>(i));
        } else {
            v_.emplace<double>(static_cast<double>(i));
        }
    }
    Json(double d) : v_(d) {}              // NOLINT
    Json(const char* s) : v_(std::string(s)) {}          // NOLINT
    Json(std::string s) : v_(std::move(s)) {}            // NOLINT
    Json(std::string_view s) : v_(std::string(s)) {}     // NOLINT
    Json(Array a) : v_(std::move(a)) {}                  // NOLINT
    Json(Object o) : v_(std::move(o)) {}                 // NOLINT

    // Json::object({{"k", v}, ...}) and Json::array({v, ...}) build containers.
    static Json object(std::initializer_list<Member> members = {}) { return Json(Object(members)); }
    static Json array(std::initializer_list<Json> items = {}) { return Json(Array(items)); }

    // parse(text): strict JSON. Fails with invalid_argument (message says where and why) on
    // malformed text, trailing garbage, invalid UTF-8 or nesting deeper than max_depth.
    static Result<Json> parse(std::string_view text, size_t max_depth = 64);

    Type type() const { return static_cast<Type>(v_.index()); }
    bool is_null() const { return type() == Type::null; }
    bool is_bool() const { return type() == Type::boolean; }
    bool is_integer() const { return type() == Type::integer; }
    // is_number(): integer or double.
    bool is_number() const { return type() == Type::integer || type() == Type::number; }
    bool is_string() const { return type() == Type::string; }
    bool is_array() const { return type() == Type::array; }
    bool is_object() const { return type() == Type::object; }

    // Accessors. Calling one on the wrong type is a programming error and aborts; check the
    // type first, or use the get_* helpers that return a fallback.
    bool as_bool() const;
    int64_t as_int() const;
    double as_double() const;  // integer values convert
    const std::string& as_string() const;
    const Array& as_array() const;
    Array& as_array();
    const Object& as_object() const;
    Object& as_object();

    // find(key): the member's value, or nullptr when this is not an object or lacks the key.
    const Json* find(std::string_view key) const;
    Json* find(std::string_view key);

    // get_string / get_int / get_bool: the member's value if present and of that type,
    // otherwise the fallback.
    std::string_view get_string(std::string_view key, std::string_view fallback = {}) const;
    int64_t get_int(std::string_view key, int64_t fallback = 0) const;
    bool get_bool(std::string_view key, bool fallback = false) const;

    // operator[](key): the member, inserted as null at the end when missing. Turns a null
    // value into an empty object first; aborts on any other non-object.
    Json& operator[](std::string_view key);

    // set(key, value): replace or append a member; returns *this for chaining.
    Json& set(std::string_view key, Json value);

    // erase(key): remove a member of an object; returns whether it was there.
    bool erase(std::string_view key);

    // push_back(value): append to an array (a null becomes an empty array first).
    void push_back(Json value);

    // size(): elements of an array or members of an object, 0 otherwise.
    size_t size() const;

    // dump(): compact JSON text. Non-finite doubles are written as null (JSON has none).
    std::string dump() const;
    void dump_to(std::string& out) const;

    friend bool operator==(const Json& a, const Json& b) = default;

private:
    std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_{nullptr};
};

// append_json_string(out, s): s as a quoted, escaped JSON string appended to out.
void append_json_string(std::string& out, std::string_view s);

}  // namespace quckrt
