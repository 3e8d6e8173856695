// PresenceState: who is present in which topic, as pure data (Phoenix.Tracker.State's role).
// No I/O, no clock, no lock: the owner (NodePresence) serializes calls and decides when to
// take the accumulated diffs and broadcast them.
//
// Model: an entry is one (topic, key, meta) tracked by one owner (a channel instance) on one
// node, identified by a unique phx_ref. A key (the user id) may have several entries in a
// topic, one per device or tab. Diffs accumulate per topic until take_diffs():
//   - a track adds the meta to `joins`;
//   - an untrack adds it to `leaves`; if the same ref is still in the pending joins (it
//     joined and left inside one window) it is removed from `joins` and still listed in
//     `leaves`, because a client may have seen it in a presence_state snapshot meanwhile
//     (a leave for an unknown ref is ignored by phoenix.js, a missing leave is a ghost);
//   - an update is a leave of the old ref plus a join of a new ref with `phx_ref_prev`.
// Per-key transitions over the window give user:online (first entry of a key appeared) and
// user:offline (last entry gone); a tab that flaps inside one window produces neither.
//
// Replicas: every entry carries the node that tracked it, so another node's replica can be
// merged entry by entry and a departed node removed in one step (remove_node).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <quckrt/json.hpp>

namespace quckrt::core {

struct PresenceDiff {
    std::string topic;
    Json joins;   // {key: {metas: [...]}}
    Json leaves;  // {key: {metas: [...]}}
    std::vector<std::string> came_online;  // keys with no entry before the window, some now
    std::vector<std::string> went_offline;  // keys with entries before the window, none now
};

class PresenceState {
public:
    explicit PresenceState(std::string node_id) : node_id_(std::move(node_id)) {}

    // track: add an entry for owner. Returns false (and changes nothing) when the owner
    // already tracks something (one entry per channel instance, as Phoenix).
    bool track(uint64_t owner, std::string_view topic, std::string_view key, Json meta,
               std::string ref);
    // untrack: remove the owner's entry, if any. Returns its key, or "" when none.
    std::string untrack(uint64_t owner);
    // update: replace the owner's meta under a new ref (leave old + join new with
    // phx_ref_prev). Returns false when the owner tracks nothing.
    bool update(uint64_t owner, Json meta, std::string new_ref);
    // remove_node: drop every entry tracked on node (a node that died); leaves accumulate.
    size_t remove_node(std::string_view node);
    // merge_remote: an entry tracked on another node (replication), keyed by its ref.
    void merge_remote(std::string_view node, std::string_view topic, std::string_view key,
                      Json meta, std::string ref);
    void untrack_remote(std::string_view ref);

    // list(topic): {key: {metas: [meta + phx_ref, ...]}}, oldest first within a key.
    Json list(std::string_view topic) const;
    // metas_of(key): every entry of key across topics: [{topic, phx_ref, ...meta}].
    Json metas_of(std::string_view key) const;
    bool is_present(std::string_view key) const { return key_counts_.contains(std::string(key)); }
    // present_keys(): every key with at least one entry, sorted.
    std::vector<std::string> present_keys() const;
    size_t entry_count() const { return entries_.size(); }
    // key_count(topic): distinct keys present in topic.
    size_t key_count(std::string_view topic) const;

    // take_diffs(): the accumulated diffs per topic (both joins and leaves always objects),
    // and reset the window.
    std::vector<PresenceDiff> take_diffs();

private:
    struct Entry {
        std::string topic;
        std::string key;
        std::string ref;
        std::string node;
        Json meta;  // includes phx_ref (and phx_ref_prev after an update)
        uint64_t owner = 0;
    };
    struct Pending {
        Json joins = Json::object();
        Json leaves = Json::object();
        std::unordered_map<std::string, bool> present_before;  // key -> had entries at start
    };

    void add(Entry e);
    void remove(const std::string& ref);
    Pending& pending(const std::string& topic);
    void note_key(Pending& p, const std::string& topic, const std::string& key);
    size_t topic_key_count(const std::string& topic, const std::string& key) const;

    std::string node_id_;
    std::unordered_map<std::string, Entry> entries_;                 // by ref
    std::unordered_map<uint64_t, std::string> owner_ref_;            // owner -> ref
    // topic -> key -> refs in tracking order; keys in first-seen order for stable lists.
    struct TopicIndex {
        std::vector<std::string> key_order;
        std::unordered_map<std::string, std::vector<std::string>> refs;
    };
    std::unordered_map<std::string, TopicIndex> topics_;
    std::unordered_map<std::string, size_t> key_counts_;              // key -> entries, all topics
    std::unordered_map<std::string, Pending> pending_;
};

}  // namespace quckrt::core
