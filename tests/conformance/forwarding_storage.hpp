// ForwardingStorage: a Storage that passes every call to another one. Tests derive from it
// to inject faults or count calls around a real backend, overriding only what they need.
#pragma once

#include <memory>
#include <utility>

#include <quckrt/storage.hpp>

namespace quckrt::testing {

class ForwardingStorage : public Storage {
public:
    explicit ForwardingStorage(std::unique_ptr<Storage> inner) : inner_(std::move(inner)) {}

    Status begin_batch() override { return inner_->begin_batch(); }
    Status commit_batch() override { return inner_->commit_batch(); }
    void rollback_batch() override { inner_->rollback_batch(); }

    Status create_conversation(const Conversation& c) override {
        return inner_->create_conversation(c);
    }
    Result<Conversation> get_conversation(std::string_view id) override {
        return inner_->get_conversation(id);
    }
    Result<std::vector<Conversation>> conversations_of(std::string_view user) override {
        return inner_->conversations_of(user);
    }
    Result<bool> add_member(std::string_view c, std::string_view u, int64_t at) override {
        return inner_->add_member(c, u, at);
    }
    Result<bool> remove_member(std::string_view c, std::string_view u) override {
        return inner_->remove_member(c, u);
    }
    Result<std::vector<Member>> members(std::string_view c) override { return inner_->members(c); }
    Result<bool> is_member(std::string_view c, std::string_view u) override {
        return inner_->is_member(c, u);
    }

    Result<Appended> append_message(const NewMessage& m) override {
        return inner_->append_message(m);
    }
    Result<Message> get_message(std::string_view id) override { return inner_->get_message(id); }
    Result<Change> edit_message(const MessageAction& a, std::string_view content) override {
        return inner_->edit_message(a, content);
    }
    Result<Change> delete_message(const MessageAction& a) override {
        return inner_->delete_message(a);
    }
    Result<Change> add_reaction(const MessageAction& a, std::string_view emoji) override {
        return inner_->add_reaction(a, emoji);
    }
    Result<Change> remove_reaction(const MessageAction& a, std::string_view emoji) override {
        return inner_->remove_reaction(a, emoji);
    }
    Result<MarkRead> mark_read(std::string_view c, std::string_view u, int64_t seq) override {
        return inner_->mark_read(c, u, seq);
    }
    Result<std::vector<ReadState>> read_states(std::string_view c) override {
        return inner_->read_states(c);
    }

    Result<HistoryPage> history(const HistoryQuery& q) override { return inner_->history(q); }
    Result<EventPage> events_after(std::string_view c, int64_t after, size_t limit) override {
        return inner_->events_after(c, after, limit);
    }
    Result<SeqRange> seq_range(std::string_view c) override { return inner_->seq_range(c); }
    Result<size_t> prune_events(std::string_view c, int64_t before) override {
        return inner_->prune_events(c, before);
    }

    Result<std::vector<QueueEntry>> queue_for(std::string_view u, int64_t after, size_t limit,
                                              int64_t now) override {
        return inner_->queue_for(u, after, limit, now);
    }
    Result<size_t> queue_depth(std::string_view u) override { return inner_->queue_depth(u); }
    Result<AckResult> ack(std::string_view u, std::string_view m) override {
        return inner_->ack(u, m);
    }
    Result<size_t> purge_expired(int64_t now, size_t max_rows) override {
        return inner_->purge_expired(now, max_rows);
    }

    Status insert_call(const CallRecord& c) override { return inner_->insert_call(c); }
    Status update_call(const CallRecord& c) override { return inner_->update_call(c); }
    Result<CallRecord> get_call(std::string_view id) override { return inner_->get_call(id); }
    Result<std::vector<CallRecord>> calls_of(std::string_view u, int64_t before,
                                             size_t limit) override {
        return inner_->calls_of(u, before, limit);
    }

protected:
    Storage& inner() { return *inner_; }

private:
    std::unique_ptr<Storage> inner_;
};

}  // namespace quckrt::testing
