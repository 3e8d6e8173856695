#include "presence_parse.hpp"

#include <cstring>

namespace quckrt::bench {
namespace {

// Nesting deeper than this inside a meta is refused rather than followed (the recursion in
// skip_value is bounded by it).
constexpr int kMaxDepth = 64;

// Cursor: one pass over the JSON text; every method consumes one token or fails.
class Cursor {
  public:
    Cursor(std::string_view s, std::string& error) : s_(s), error_(error) {}

    bool fail(const char* what) {
        if (error_.empty()) {
            error_ = std::string(what) + " at offset " + std::to_string(i_);
        }
        return false;
    }
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
            ++i_;
    }
    bool at_end() {
        ws();
        return i_ == s_.size();
    }
    // peek(): the next non-blank character, or '\0' at the end.
    char peek() {
        ws();
        return i_ < s_.size() ? s_[i_] : '\0';
    }
    bool take(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool expect(char c, const char* what) { return take(c) || fail(what); }

    // string(raw): a JSON string; raw is its contents with escapes left as they are.
    bool string(std::string_view& raw) {
        if (!take('"')) return fail("expected a string");
        const size_t start = i_;
        const char* base = s_.data();
        size_t from = start;
        for (;;) {
            const void* q = std::memchr(base + from, '"', s_.size() - from);
            if (!q) return fail("unterminated string");
            const size_t at = static_cast<size_t>(static_cast<const char*>(q) - base);
            size_t backslashes = 0;
            while (at - backslashes > start && base[at - backslashes - 1] == '\\') ++backslashes;
            if (backslashes % 2 == 0) {
                raw = s_.substr(start, at - start);
                i_ = at + 1;
                return true;
            }
            from = at + 1;
        }
    }

    // skip_value(): any JSON value.
    bool skip_value(int depth = 0) {
        if (depth > kMaxDepth) return fail("nesting too deep");
        const char c = peek();
        if (c == '"') {
            std::string_view ignored;
            return string(ignored);
        }
        if (c == '{') {
            ++i_;
            if (take('}')) return true;
            do {
                std::string_view name;
                if (!string(name) || !expect(':', "expected ':'") || !skip_value(depth + 1))
                    return false;
            } while (take(','));
            return expect('}', "expected ',' or '}' in an object");
        }
        if (c == '[') {
            ++i_;
            if (take(']')) return true;
            do {
                if (!skip_value(depth + 1)) return false;
            } while (take(','));
            return expect(']', "expected ',' or ']' in an array");
        }
        // A number or a literal: a run of these characters (validated no further; the bench
        // only needs to know where the value ends).
        const size_t start = i_;
        while (i_ < s_.size() &&
               ((s_[i_] >= '0' && s_[i_] <= '9') || (s_[i_] >= 'a' && s_[i_] <= 'z') ||
                s_[i_] == '-' || s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'E'))
            ++i_;
        return i_ > start || fail("expected a value");
    }

    // meta(key, out): {..., "phx_ref":"...", ...}
    bool meta(std::string_view key, std::vector<PresenceMeta>& out) {
        if (!expect('{', "expected a meta object")) return false;
        bool have_ref = false;
        if (!take('}')) {
            do {
                std::string_view name;
                if (!string(name) || !expect(':', "expected ':'")) return false;
                if (name == "phx_ref" && peek() == '"') {
                    std::string_view ref;
                    if (!string(ref)) return false;
                    out.push_back({key, ref});
                    have_ref = true;
                } else if (!skip_value(1)) {
                    return false;
                }
            } while (take(','));
            if (!expect('}', "expected ',' or '}' in a meta")) return false;
        }
        return have_ref || fail("meta without a string phx_ref");
    }

    // entry(key, out): {"metas":[meta, ...], <extra fields>}
    bool entry(std::string_view key, std::vector<PresenceMeta>& out) {
        if (!expect('{', "expected a presence object")) return false;
        bool have_metas = false;
        if (!take('}')) {
            do {
                std::string_view name;
                if (!string(name) || !expect(':', "expected ':'")) return false;
                if (name == "metas") {
                    if (!expect('[', "expected the metas array")) return false;
                    if (!take(']')) {
                        do {
                            if (!meta(key, out)) return false;
                        } while (take(','));
                        if (!expect(']', "expected ',' or ']' in metas")) return false;
                    }
                    have_metas = true;
                } else if (!skip_value(1)) {
                    return false;
                }
            } while (take(','));
            if (!expect('}', "expected ',' or '}' in a presence")) return false;
        }
        return have_metas || fail("presence without metas");
    }

    // map(out): {"key": entry, ...}
    bool map(std::vector<PresenceMeta>& out) {
        if (!expect('{', "expected a presence map")) return false;
        if (take('}')) return true;
        do {
            std::string_view key;
            if (!string(key) || !expect(':', "expected ':'") || !entry(key, out)) return false;
        } while (take(','));
        return expect('}', "expected ',' or '}' in a presence map");
    }

  private:
    std::string_view s_;
    size_t i_ = 0;
    std::string& error_;
};

}  // namespace

bool parse_presence_map(std::string_view json, std::vector<PresenceMeta>& out, std::string& error) {
    error.clear();
    Cursor cur(json, error);
    return cur.map(out) && (cur.at_end() || cur.fail("text after the presence map"));
}

bool parse_presence_diff(std::string_view json, std::vector<PresenceMeta>& joins,
                         std::vector<PresenceMeta>& leaves, std::string& error) {
    error.clear();
    Cursor cur(json, error);
    bool have_joins = false;
    bool have_leaves = false;
    if (!cur.expect('{', "expected the diff object")) return false;
    if (!cur.take('}')) {
        do {
            std::string_view name;
            if (!cur.string(name) || !cur.expect(':', "expected ':'")) return false;
            if (name == "joins" && !have_joins) {
                if (!cur.map(joins)) return false;
                have_joins = true;
            } else if (name == "leaves" && !have_leaves) {
                if (!cur.map(leaves)) return false;
                have_leaves = true;
            } else if (!cur.skip_value(1)) {
                return false;
            }
        } while (cur.take(','));
        if (!cur.expect('}', "expected ',' or '}' in the diff")) return false;
    }
    if (!have_joins || !have_leaves) {
        error = "diff without \"joins\" or \"leaves\"";
        return false;
    }
    return cur.at_end() || cur.fail("text after the diff");
}

}  // namespace quckrt::bench
