// Storage conformance, part 3: the store-and-forward queue (enqueue with the message,
// order, paging, ack, TTL driven by explicit `now`) and call history. Included by
// storage_conformance.hpp.
#pragma once

#include "conformance/storage_fixture.hpp"

namespace quckrt::testing {

template <class Factory>
class StorageQueueConformance : public StorageTest<Factory> {
protected:
    std::vector<std::string> ids(const std::vector<QueueEntry>& entries) {
        std::vector<std::string> out;
        for (const auto& e : entries) out.push_back(e.message.id);
        return out;
    }
};
TYPED_TEST_SUITE_P(StorageQueueConformance);

TYPED_TEST_P(StorageQueueConformance, AppendEnqueuesForMembersOnlyOnce) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob", "carol"});
    auto a = this->send("c", "alice", "hi", std::nullopt, {"bob", "carol", "bob", "mallory"});
    EXPECT_EQ(a.queued, 2u);  // duplicates once, non-members skipped
    EXPECT_EQ(db.queue_depth("bob").value(), 1u);
    EXPECT_EQ(db.queue_depth("carol").value(), 1u);
    EXPECT_EQ(db.queue_depth("mallory").value(), 0u);
    auto entries = db.queue_for("bob", 0, 10, kT0);
    ASSERT_TRUE(entries.has_value()) << entries.error().to_string();
    ASSERT_EQ(entries->size(), 1u);
    const QueueEntry& e = (*entries)[0];
    EXPECT_GT(e.entry_id, 0);
    EXPECT_EQ(e.user_id, "bob");
    EXPECT_EQ(e.enqueued_at, kT0);
    EXPECT_EQ(e.expires_at, kT0 + kTtl);
    EXPECT_EQ(e.message.id, a.message.id);
    EXPECT_EQ(e.message.seq, a.message.seq);  // the same id and seq as on chat:{id}
    EXPECT_EQ(e.message.content, "hi");
    EXPECT_EQ(e.message.sender_id, "alice");
}

TYPED_TEST_P(StorageQueueConformance, EntriesComeInOrderAndPageByEntryId) {
    auto& db = this->db();
    this->conversation("c1", {"alice", "bob"});
    this->conversation("c2", {"carol", "bob"});
    std::vector<std::string> expected;
    for (int i = 0; i < 9; ++i) {
        const bool first = i % 3 != 0;
        expected.push_back(this->send(first ? "c1" : "c2", first ? "alice" : "carol",
                                      "m" + std::to_string(i), std::nullopt, {"bob"}, kT0 + i)
                               .message.id);
    }
    std::vector<std::string> got;
    int64_t after = 0;
    for (int pages = 0; pages < 10; ++pages) {
        auto page = db.queue_for("bob", after, 4, kT0 + 100);
        ASSERT_TRUE(page.has_value());
        if (page->empty()) break;
        EXPECT_LE(page->size(), 4u);
        for (size_t i = 1; i < page->size(); ++i)
            EXPECT_LT((*page)[i - 1].entry_id, (*page)[i].entry_id);
        for (const auto& id : this->ids(*page)) got.push_back(id);
        after = page->back().entry_id;
    }
    EXPECT_EQ(got, expected);
    EXPECT_EQ(db.queue_for("bob", 0, 0, kT0).error().code(), StatusCode::invalid_argument);
    EXPECT_TRUE(db.queue_for("nobody", 0, 10, kT0)->empty());
}

TYPED_TEST_P(StorageQueueConformance, AckDeletesOnlyThatUsersEntryAndIsIdempotent) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob", "carol"});
    auto m1 = this->send("c", "alice", "one", std::nullopt, {"bob", "carol"}).message;
    auto m2 = this->send("c", "alice", "two", std::nullopt, {"bob"}).message;
    auto ack = db.ack("bob", m1.id);
    ASSERT_TRUE(ack.has_value()) << ack.error().to_string();
    EXPECT_TRUE(ack->deleted);
    EXPECT_EQ(ack->sender_id, "alice");
    EXPECT_EQ(ack->conversation_id, "c");
    EXPECT_EQ(ack->seq, m1.seq);
    EXPECT_EQ(this->ids(db.queue_for("bob", 0, 10, kT0).value()),
              std::vector<std::string>{m2.id});
    EXPECT_EQ(this->ids(db.queue_for("carol", 0, 10, kT0).value()),
              std::vector<std::string>{m1.id});  // carol's entry is untouched
    auto again = db.ack("bob", m1.id);
    ASSERT_TRUE(again.has_value());
    EXPECT_FALSE(again->deleted);
    EXPECT_FALSE(db.ack("bob", "no-such-message")->deleted);
    EXPECT_FALSE(db.ack("alice", m1.id)->deleted);  // never queued for the sender
    EXPECT_EQ(db.queue_depth("bob").value(), 1u);
}

TYPED_TEST_P(StorageQueueConformance, EntryIdsAreNeverReused) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    auto m1 = this->send("c", "alice", "one", std::nullopt, {"bob"}).message;
    const int64_t first_id = db.queue_for("bob", 0, 10, kT0)->at(0).entry_id;
    ASSERT_TRUE(db.ack("bob", m1.id)->deleted);  // the newest entry is gone
    this->send("c", "alice", "two", std::nullopt, {"bob"});
    auto page = db.queue_for("bob", first_id, 10, kT0);  // a reader's old cursor
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->size(), 1u);
    EXPECT_GT((*page)[0].entry_id, first_id);
}

TYPED_TEST_P(StorageQueueConformance, ExpiredEntriesAreHiddenThenPurged) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob", "carol"});
    // Entries expire at kT0 + kTtl + i for message i.
    for (int i = 0; i < 5; ++i)
        this->send("c", "alice", "m", std::nullopt, {"bob", "carol"}, kT0 + i);
    const int64_t t = kT0 + kTtl;
    EXPECT_EQ(db.queue_for("bob", 0, 10, t - 1)->size(), 5u);
    EXPECT_EQ(db.queue_for("bob", 0, 10, t + 2)->size(), 2u);  // expires_at <= now is expired
    EXPECT_EQ(db.queue_depth("bob").value(), 5u);              // hidden, not yet purged
    EXPECT_EQ(db.purge_expired(t - 1, 1000).value(), 0u);
    EXPECT_EQ(db.purge_expired(t + 2, 4).value(), 4u);  // bounded by max_rows
    EXPECT_EQ(db.purge_expired(t + 2, 1000).value(), 2u);
    EXPECT_EQ(db.queue_depth("bob").value(), 2u);
    EXPECT_EQ(db.queue_depth("carol").value(), 2u);
    EXPECT_EQ(db.purge_expired(t + 100, 0).value(), 0u);
    EXPECT_EQ(db.purge_expired(t + 100, 1000).value(), 4u);
    EXPECT_EQ(db.queue_depth("bob").value(), 0u);
    // Messages stay in history after their queue entries expire.
    EXPECT_EQ(db.history({.conversation_id = "c"})->messages.size(), 5u);
}

TYPED_TEST_P(StorageQueueConformance, QueuedMessageShowsLaterChanges) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    auto m1 = this->send("c", "alice", "first", std::nullopt, {"bob"}).message;
    auto m2 = this->send("c", "alice", "second", std::nullopt, {"bob"}).message;
    ASSERT_TRUE(db.edit_message(this->action("c", m1.id, "alice"), "first!").has_value());
    ASSERT_TRUE(db.delete_message(this->action("c", m2.id, "alice")).has_value());
    auto page = db.queue_for("bob", 0, 10, kT0);
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].message.content, "first!");
    EXPECT_TRUE((*page)[1].message.deleted_at.has_value());
    EXPECT_EQ((*page)[1].message.content, "");
}

TYPED_TEST_P(StorageQueueConformance, CallHistory) {
    auto& db = this->db();
    CallRecord c1{.call_id = "k1", .caller_id = "alice", .callee_id = "bob", .media = "video",
                  .started_at = kT0, .outcome = "ringing"};
    ASSERT_TRUE(db.insert_call(c1).ok());
    EXPECT_EQ(db.insert_call(c1).code(), StatusCode::already_exists);
    c1.answered_at = kT0 + 3000;
    c1.ended_at = kT0 + 60000;
    c1.outcome = "completed";
    ASSERT_TRUE(db.update_call(c1).ok());
    auto got = db.get_call("k1");
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->caller_id, "alice");
    EXPECT_EQ(got->callee_id, "bob");
    EXPECT_EQ(got->media, "video");
    EXPECT_EQ(got->answered_at, std::optional<int64_t>(kT0 + 3000));
    EXPECT_EQ(got->ended_at, std::optional<int64_t>(kT0 + 60000));
    EXPECT_EQ(got->outcome, "completed");
    ASSERT_TRUE(db.insert_call({.call_id = "k2", .caller_id = "bob", .callee_id = "alice",
                                .started_at = kT0 + 1, .outcome = "missed"})
                    .ok());
    ASSERT_TRUE(db.insert_call({.call_id = "k3", .caller_id = "carol", .callee_id = "dave",
                                .started_at = kT0 + 2, .outcome = "busy"})
                    .ok());
    auto alice = db.calls_of("alice", 0, 10);
    ASSERT_TRUE(alice.has_value());
    ASSERT_EQ(alice->size(), 2u);
    EXPECT_EQ((*alice)[0].call_id, "k2");  // newest first, as caller or callee
    EXPECT_EQ((*alice)[1].call_id, "k1");
    EXPECT_EQ(db.calls_of("alice", kT0 + 1, 10)->size(), 1u);  // started before the cursor
    EXPECT_EQ(db.calls_of("alice", 0, 1)->size(), 1u);
    EXPECT_EQ(db.update_call({.call_id = "nope", .caller_id = "a", .callee_id = "b",
                              .outcome = "x"})
                  .code(),
              StatusCode::not_found);
    EXPECT_EQ(db.get_call("nope").error().code(), StatusCode::not_found);
    EXPECT_EQ(db.insert_call({.call_id = "", .caller_id = "a", .callee_id = "b", .outcome = "x"})
                  .code(),
              StatusCode::invalid_argument);
}

REGISTER_TYPED_TEST_SUITE_P(StorageQueueConformance, AppendEnqueuesForMembersOnlyOnce,
                            EntriesComeInOrderAndPageByEntryId,
                            AckDeletesOnlyThatUsersEntryAndIsIdempotent, EntryIdsAreNeverReused,
                            ExpiredEntriesAreHiddenThenPurged, QueuedMessageShowsLaterChanges,
                            CallHistory);

}  // namespace quckrt::testing
