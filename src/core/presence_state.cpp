#include "core/presence_state.hpp"

#include <algorithm>

namespace quckrt::core {
namespace {

// Appends meta to diff[key].metas.
void add_meta(Json& diff, const std::string& key, const Json& meta) {
    Json& slot = diff[key];
    if (!slot.find("metas")) slot.set("metas", Json::array());
    slot.find("metas")->push_back(meta);
}

// Removes the meta with phx_ref == ref from diff[key].metas; drops the key when empty.
bool remove_meta(Json& diff, const std::string& key, const std::string& ref) {
    Json* slot = diff.find(key);
    if (!slot) return false;
    Json::Array& metas = slot->find("metas")->as_array();
    auto it = std::find_if(metas.begin(), metas.end(),
                           [&](const Json& m) { return m.get_string("phx_ref") == ref; });
    if (it == metas.end()) return false;
    metas.erase(it);
    if (metas.empty()) diff.erase(key);
    return true;
}

}  // namespace

size_t PresenceState::topic_key_count(const std::string& topic, const std::string& key) const {
    auto t = topics_.find(topic);
    if (t == topics_.end()) return 0;
    auto k = t->second.refs.find(key);
    return k == t->second.refs.end() ? 0 : k->second.size();
}

PresenceState::Pending& PresenceState::pending(const std::string& topic) {
    return pending_[topic];
}

void PresenceState::note_key(Pending& p, const std::string& topic, const std::string& key) {
    // Remember, once per window, whether the key was present before anything changed.
    p.present_before.try_emplace(key, topic_key_count(topic, key) > 0);
}

void PresenceState::add(Entry e) {
    Pending& p = pending(e.topic);
    note_key(p, e.topic, e.key);
    add_meta(p.joins, e.key, e.meta);
    TopicIndex& t = topics_[e.topic];
    auto [it, inserted] = t.refs.try_emplace(e.key);
    if (inserted) t.key_order.push_back(e.key);
    it->second.push_back(e.ref);
    ++key_counts_[e.key];
    if (e.owner) owner_ref_[e.owner] = e.ref;
    std::string ref = e.ref;
    entries_.emplace(std::move(ref), std::move(e));
}

void PresenceState::remove(const std::string& ref) {
    auto it = entries_.find(ref);
    if (it == entries_.end()) return;
    Entry e = std::move(it->second);
    entries_.erase(it);
    if (e.owner) owner_ref_.erase(e.owner);

    Pending& p = pending(e.topic);
    note_key(p, e.topic, e.key);
    remove_meta(p.joins, e.key, e.ref);  // joined and left inside the window
    add_meta(p.leaves, e.key, e.meta);

    TopicIndex& t = topics_[e.topic];
    std::vector<std::string>& refs = t.refs[e.key];
    refs.erase(std::find(refs.begin(), refs.end(), e.ref));
    if (refs.empty()) {
        t.refs.erase(e.key);
        t.key_order.erase(std::find(t.key_order.begin(), t.key_order.end(), e.key));
        if (t.refs.empty()) topics_.erase(e.topic);
    }
    if (--key_counts_[e.key] == 0) key_counts_.erase(e.key);
}

bool PresenceState::track(uint64_t owner, std::string_view topic, std::string_view key, Json meta,
                          std::string ref) {
    if (owner_ref_.contains(owner)) return false;
    if (!meta.is_object()) meta = Json::object();
    meta.set("phx_ref", ref);
    add(Entry{std::string(topic), std::string(key), std::move(ref), node_id_, std::move(meta),
              owner});
    return true;
}

std::string PresenceState::untrack(uint64_t owner) {
    auto it = owner_ref_.find(owner);
    if (it == owner_ref_.end()) return {};
    const std::string ref = it->second;
    std::string key = entries_.at(ref).key;
    remove(ref);
    return key;
}

bool PresenceState::update(uint64_t owner, Json meta, std::string new_ref) {
    auto it = owner_ref_.find(owner);
    if (it == owner_ref_.end()) return false;
    const Entry old = entries_.at(it->second);
    remove(old.ref);
    if (!meta.is_object()) meta = Json::object();
    meta.set("phx_ref", new_ref);
    meta.set("phx_ref_prev", old.ref);
    add(Entry{old.topic, old.key, std::move(new_ref), old.node, std::move(meta), owner});
    return true;
}

size_t PresenceState::remove_node(std::string_view node) {
    std::vector<std::string> refs;
    for (const auto& [ref, e] : entries_)
        if (e.node == node) refs.push_back(ref);
    for (const auto& ref : refs) remove(ref);
    return refs.size();
}

void PresenceState::merge_remote(std::string_view node, std::string_view topic,
                                 std::string_view key, Json meta, std::string ref) {
    if (entries_.contains(ref)) return;  // replication may deliver an entry twice
    if (!meta.is_object()) meta = Json::object();
    meta.set("phx_ref", ref);
    add(Entry{std::string(topic), std::string(key), std::move(ref), std::string(node),
              std::move(meta), 0});
}

void PresenceState::untrack_remote(std::string_view ref) { remove(std::string(ref)); }

size_t PresenceState::key_count(std::string_view topic) const {
    auto t = topics_.find(std::string(topic));
    return t == topics_.end() ? 0 : t->second.key_order.size();
}

Json PresenceState::list(std::string_view topic) const {
    Json out = Json::object();
    auto t = topics_.find(std::string(topic));
    if (t == topics_.end()) return out;
    // Keys are unique in key_order: append members directly (Json::set would search the
    // object each time, O(keys²) for a snapshot of a big topic).
    Json::Object& members = out.as_object();
    members.reserve(t->second.key_order.size());
    for (const std::string& key : t->second.key_order) {
        Json::Array metas;
        for (const std::string& ref : t->second.refs.at(key)) metas.push_back(entries_.at(ref).meta);
        members.emplace_back(key, Json::object({{"metas", Json(std::move(metas))}}));
    }
    return out;
}

Json PresenceState::metas_of(std::string_view key) const {
    Json out = Json::array();
    for (const auto& [ref, e] : entries_) {
        if (e.key != key) continue;
        Json m = Json::object({{"topic", e.topic}});
        for (const auto& [k, v] : e.meta.as_object()) m.set(k, v);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<std::string> PresenceState::present_keys() const {
    std::vector<std::string> keys;
    keys.reserve(key_counts_.size());
    for (const auto& [key, n] : key_counts_) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    return keys;
}

std::vector<PresenceDiff> PresenceState::take_diffs() {
    std::vector<PresenceDiff> out;
    out.reserve(pending_.size());
    for (auto& [topic, p] : pending_) {
        PresenceDiff d{topic, std::move(p.joins), std::move(p.leaves), {}, {}};
        for (const auto& [key, before] : p.present_before) {
            const bool now = topic_key_count(topic, key) > 0;
            if (!before && now) d.came_online.push_back(key);
            if (before && !now) d.went_offline.push_back(key);
        }
        std::sort(d.came_online.begin(), d.came_online.end());
        std::sort(d.went_offline.begin(), d.went_offline.end());
        if (d.joins.size() || d.leaves.size() || !d.came_online.empty() || !d.went_offline.empty())
            out.push_back(std::move(d));
    }
    pending_.clear();
    return out;
}

}  // namespace quckrt::core
