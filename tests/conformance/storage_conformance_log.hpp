// Storage conformance, part 2: history paging, the event log used for resume, and batches.
// Included by storage_conformance.hpp.
#pragma once

#include "conformance/storage_fixture.hpp"

namespace quckrt::testing {

template <class Factory>
class StorageLogConformance : public StorageTest<Factory> {
protected:
    // fill(n): conversation "c" with n messages, seq 1..n, alternating senders.
    std::vector<Message> fill(int n) {
        this->conversation("c", {"alice", "bob"});
        std::vector<Message> out;
        for (int i = 1; i <= n; ++i) {
            const char* sender = i % 2 ? "alice" : "bob";
            out.push_back(this->send("c", sender, "m" + std::to_string(i)).message);
        }
        return out;
    }
    static std::vector<int64_t> range(int64_t from, int64_t to) {
        std::vector<int64_t> v;
        for (int64_t i = from; i <= to; ++i) v.push_back(i);
        return v;
    }
};
TYPED_TEST_SUITE_P(StorageLogConformance);

TYPED_TEST_P(StorageLogConformance, HistoryLatestPage) {
    this->fill(30);
    auto page = this->db().history({.conversation_id = "c", .limit = 10});
    ASSERT_TRUE(page.has_value()) << page.error().to_string();
    EXPECT_EQ(this->seqs(page->messages), this->range(21, 30));  // ascending
    EXPECT_TRUE(page->has_more);
    auto all = this->db().history({.conversation_id = "c", .limit = 30});
    EXPECT_EQ(all->messages.size(), 30u);
    EXPECT_FALSE(all->has_more);
    this->conversation("empty", {"alice"});
    auto none = this->db().history({.conversation_id = "empty"});
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->messages.empty());
    EXPECT_FALSE(none->has_more);
}

TYPED_TEST_P(StorageLogConformance, HistoryPagesBackwardWithBeforeCursor) {
    this->fill(25);
    std::vector<int64_t> seen;
    std::optional<int64_t> before;
    for (int pages = 0;; ++pages) {
        ASSERT_LT(pages, 10);
        auto page = this->db().history({.conversation_id = "c", .before_seq = before, .limit = 7});
        ASSERT_TRUE(page.has_value());
        const auto got = this->seqs(page->messages);
        seen.insert(seen.begin(), got.begin(), got.end());
        if (!page->has_more) break;
        before = page->messages.front().seq;
    }
    EXPECT_EQ(seen, this->range(1, 25));
    auto page = this->db().history({.conversation_id = "c", .before_seq = 5, .limit = 10});
    EXPECT_EQ(this->seqs(page->messages), this->range(1, 4));
    EXPECT_FALSE(page->has_more);
}

TYPED_TEST_P(StorageLogConformance, HistoryPagesForwardWithAfterCursor) {
    this->fill(25);
    std::vector<int64_t> seen;
    int64_t after = 0;
    for (int pages = 0;; ++pages) {
        ASSERT_LT(pages, 10);
        auto page = this->db().history({.conversation_id = "c", .after_seq = after, .limit = 7});
        ASSERT_TRUE(page.has_value());
        for (int64_t s : this->seqs(page->messages)) seen.push_back(s);
        if (!page->has_more) break;
        after = page->messages.back().seq;
    }
    EXPECT_EQ(seen, this->range(1, 25));
    auto tail = this->db().history({.conversation_id = "c", .after_seq = 20, .limit = 5});
    EXPECT_EQ(this->seqs(tail->messages), this->range(21, 25));
    EXPECT_FALSE(tail->has_more);
    EXPECT_TRUE(this->db().history({.conversation_id = "c", .after_seq = 25})->messages.empty());
}

TYPED_TEST_P(StorageLogConformance, HistoryLimitsAreClampedAndValidated) {
    this->fill(static_cast<int>(kMaxHistoryLimit) + 10);
    auto big = this->db().history({.conversation_id = "c", .limit = 100000});
    ASSERT_TRUE(big.has_value());
    EXPECT_EQ(big->messages.size(), kMaxHistoryLimit);
    EXPECT_TRUE(big->has_more);
    EXPECT_EQ(this->db().history({.conversation_id = "c", .limit = 0}).error().code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(this->db()
                  .history({.conversation_id = "c", .before_seq = 5, .after_seq = 1})
                  .error()
                  .code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(this->db().history({.conversation_id = "nope"}).error().code(),
              StatusCode::not_found);
}

TYPED_TEST_P(StorageLogConformance, HistoryShowsTombstonesAndReactions) {
    auto msgs = this->fill(3);
    auto& db = this->db();
    ASSERT_TRUE(db.delete_message(this->action("c", msgs[0].id, "alice")).has_value());
    ASSERT_TRUE(db.add_reaction(this->action("c", msgs[1].id, "alice"), "❤️").has_value());
    auto page = db.history({.conversation_id = "c"});
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->messages.size(), 3u);  // message seqs 1..3; events took 4 and 5
    EXPECT_TRUE(page->messages[0].deleted_at.has_value());
    EXPECT_EQ(page->messages[0].content, "");
    ASSERT_EQ(page->messages[1].reactions.size(), 1u);
    EXPECT_EQ(page->messages[1].reactions[0].emoji, "❤️");
    EXPECT_EQ(page->messages[1].reactions[0].user_id, "alice");
}

TYPED_TEST_P(StorageLogConformance, EventsAfterReplaysEveryChangeInOrder) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    auto m1 = this->send("c", "alice", "one").message;                            // 1
    auto m2 = this->send("c", "bob", "two").message;                              // 2
    ASSERT_TRUE(db.edit_message(this->action("c", m1.id, "alice"), "ONE").has_value());   // 3
    ASSERT_TRUE(db.add_reaction(this->action("c", m2.id, "alice"), "👍").has_value());    // 4
    ASSERT_TRUE(db.remove_reaction(this->action("c", m2.id, "alice"), "👍").has_value()); // 5
    ASSERT_TRUE(db.delete_message(this->action("c", m2.id, "bob")).has_value());          // 6
    auto m3 = this->send("c", "alice", "three").message;                          // 7
    auto page = db.events_after("c", 0, 100);
    ASSERT_TRUE(page.has_value()) << page.error().to_string();
    const auto& ev = page->events;
    ASSERT_EQ(this->seqs(ev), this->range(1, 7));
    EXPECT_FALSE(page->has_more);
    EXPECT_EQ(page->range.first, 1);
    EXPECT_EQ(page->range.last, 7);
    const std::vector<EventKind> kinds = {
        EventKind::message_created, EventKind::message_created, EventKind::message_edited,
        EventKind::reaction_added,  EventKind::reaction_removed, EventKind::message_deleted,
        EventKind::message_created};
    for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(ev[i].kind, kinds[i]) << i;
    // Creations carry the message in its current state.
    ASSERT_TRUE(ev[0].message.has_value());
    EXPECT_EQ(ev[0].message->id, m1.id);
    EXPECT_EQ(ev[0].message->content, "ONE");
    ASSERT_TRUE(ev[1].message.has_value());
    EXPECT_TRUE(ev[1].message->deleted_at.has_value());
    EXPECT_EQ(ev[6].message->id, m3.id);
    EXPECT_EQ(ev[6].message->seq, 7);
    EXPECT_EQ(ev[2].message_id, m1.id);
    EXPECT_EQ(ev[2].payload.get_string("content"), "ONE");
    EXPECT_FALSE(ev[2].message.has_value());
    EXPECT_EQ(ev[3].actor_id, "alice");
    EXPECT_EQ(ev[3].payload.get_string("emoji"), "👍");
    EXPECT_EQ(ev[5].actor_id, "bob");
    EXPECT_EQ(ev[5].conversation_id, "c");
    // Resuming from the middle returns exactly the rest.
    EXPECT_EQ(this->seqs(db.events_after("c", 4, 100)->events), this->range(5, 7));
    EXPECT_TRUE(db.events_after("c", 7, 100)->events.empty());
}

TYPED_TEST_P(StorageLogConformance, EventsAfterPagesWithHasMore) {
    this->fill(12);
    std::vector<int64_t> seen;
    int64_t after = 0;
    for (int pages = 0;; ++pages) {
        ASSERT_LT(pages, 10);
        auto page = this->db().events_after("c", after, 5);
        ASSERT_TRUE(page.has_value());
        for (int64_t s : this->seqs(page->events)) seen.push_back(s);
        if (!page->has_more) break;
        after = page->events.back().seq;
    }
    EXPECT_EQ(seen, this->range(1, 12));
    EXPECT_EQ(this->db().events_after("c", 0, 0).error().code(), StatusCode::invalid_argument);
    EXPECT_EQ(this->db().events_after("c", 0, 100000)->events.size(), 12u);  // clamped, fine
}

TYPED_TEST_P(StorageLogConformance, SeqRangePruningAndRefusedResumes) {
    auto& db = this->db();
    this->conversation("c", {"alice"});
    auto r0 = db.seq_range("c");
    ASSERT_TRUE(r0.has_value());
    EXPECT_EQ(r0->first, 1);
    EXPECT_EQ(r0->last, 0);
    EXPECT_TRUE(db.events_after("c", 0, 10)->events.empty());
    for (int i = 0; i < 5; ++i) this->send("c", "alice", "x");
    EXPECT_EQ(db.seq_range("c")->last, 5);
    EXPECT_EQ(db.prune_events("c", 4).value(), 3u);
    auto r = db.seq_range("c");
    EXPECT_EQ(r->first, 4);
    EXPECT_EQ(r->last, 5);
    EXPECT_EQ(this->seqs(db.events_after("c", 3, 10)->events), this->range(4, 5));
    // Older than the log, or ahead of the conversation: refused, never silently skipped.
    EXPECT_EQ(db.events_after("c", 2, 10).error().code(), StatusCode::failed_precondition);
    EXPECT_EQ(db.events_after("c", 6, 10).error().code(), StatusCode::failed_precondition);
    // History keeps the messages and the sequence continues.
    EXPECT_EQ(db.history({.conversation_id = "c"})->messages.size(), 5u);
    EXPECT_EQ(this->send("c", "alice", "y").message.seq, 6);
    EXPECT_EQ(db.prune_events("c", 100).value(), 3u);  // everything: the log is empty
    EXPECT_EQ(db.seq_range("c")->first, 7);
    EXPECT_EQ(db.seq_range("c")->last, 6);
    EXPECT_EQ(db.seq_range("nope").error().code(), StatusCode::not_found);
}

TYPED_TEST_P(StorageLogConformance, BatchCommitsEverythingAtOnce) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    ASSERT_TRUE(db.begin_batch().ok());
    for (int i = 0; i < 50; ++i) this->send("c", "alice", "b" + std::to_string(i), std::nullopt,
                                            {"bob"});
    // Reads inside the batch see its writes.
    EXPECT_EQ(db.history({.conversation_id = "c", .limit = 100})->messages.size(), 50u);
    ASSERT_TRUE(db.commit_batch().ok());
    EXPECT_EQ(this->seqs(db.history({.conversation_id = "c", .limit = 100})->messages),
              this->range(1, 50));
    EXPECT_EQ(db.queue_depth("bob").value(), 50u);
}

TYPED_TEST_P(StorageLogConformance, BatchRollbackDiscardsEverything) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    this->send("c", "alice", "kept");
    ASSERT_TRUE(db.begin_batch().ok());
    this->send("c", "alice", "gone", "k", {"bob"});
    ASSERT_TRUE(db.create_conversation({.id = "c2", .created_at = kT0}).ok());
    db.rollback_batch();
    EXPECT_EQ(db.get_conversation("c")->last_seq, 1);
    EXPECT_EQ(db.get_conversation("c2").error().code(), StatusCode::not_found);
    EXPECT_EQ(db.queue_depth("bob").value(), 0u);
    // The rolled-back client id is free again, and the seq was not consumed.
    auto again = this->send("c", "alice", "gone", "k");
    EXPECT_TRUE(again.created);
    EXPECT_EQ(again.message.seq, 2);
}

TYPED_TEST_P(StorageLogConformance, DataErrorsInsideABatchDoNotSpoilIt) {
    auto& db = this->db();
    this->conversation("c", {"alice"});
    ASSERT_TRUE(db.begin_batch().ok());
    this->send("c", "alice", "one");
    EXPECT_EQ(db.append_message({.conversation_id = "c", .sender_id = "mallory", .content = "x",
                                 .created_at = kT0})
                  .error()
                  .code(),
              StatusCode::permission_denied);
    EXPECT_EQ(db.create_conversation({.id = "c", .created_at = kT0}).code(),
              StatusCode::already_exists);
    this->send("c", "alice", "two");
    ASSERT_TRUE(db.commit_batch().ok());
    EXPECT_EQ(this->seqs(db.history({.conversation_id = "c"})->messages), this->range(1, 2));
}

TYPED_TEST_P(StorageLogConformance, BatchMisuseIsRefused) {
    auto& db = this->db();
    EXPECT_EQ(db.commit_batch().code(), StatusCode::failed_precondition);
    db.rollback_batch();  // no-op
    ASSERT_TRUE(db.begin_batch().ok());
    EXPECT_EQ(db.begin_batch().code(), StatusCode::failed_precondition);
    EXPECT_TRUE(db.commit_batch().ok());
}

REGISTER_TYPED_TEST_SUITE_P(StorageLogConformance, HistoryLatestPage,
                            HistoryPagesBackwardWithBeforeCursor,
                            HistoryPagesForwardWithAfterCursor, HistoryLimitsAreClampedAndValidated,
                            HistoryShowsTombstonesAndReactions,
                            EventsAfterReplaysEveryChangeInOrder, EventsAfterPagesWithHasMore,
                            SeqRangePruningAndRefusedResumes, BatchCommitsEverythingAtOnce,
                            BatchRollbackDiscardsEverything, DataErrorsInsideABatchDoNotSpoilIt,
                            BatchMisuseIsRefused);

}  // namespace quckrt::testing
