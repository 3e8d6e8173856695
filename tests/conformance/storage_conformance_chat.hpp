// Storage conformance, part 1: conversations, membership, messages, idempotency, edits,
// deletes, reactions and read receipts. Included by storage_conformance.hpp.
#pragma once

#include <map>
#include <set>

#include "conformance/storage_fixture.hpp"

namespace quckrt::testing {

template <class Factory>
class StorageChatConformance : public StorageTest<Factory> {};
TYPED_TEST_SUITE_P(StorageChatConformance);

TYPED_TEST_P(StorageChatConformance, CreateAndGetConversation) {
    auto& db = this->db();
    ASSERT_TRUE(db.create_conversation(
                      {.id = "c1", .kind = ConversationKind::direct, .created_at = kT0})
                    .ok());
    auto c = db.get_conversation("c1");
    ASSERT_TRUE(c.has_value()) << c.error().to_string();
    EXPECT_EQ(c->id, "c1");
    EXPECT_EQ(c->kind, ConversationKind::direct);
    EXPECT_EQ(c->created_at, kT0);
    EXPECT_EQ(c->last_seq, 0);
    EXPECT_EQ(db.create_conversation({.id = "c1", .created_at = kT0}).code(),
              StatusCode::already_exists);
    EXPECT_EQ(db.create_conversation({.id = "", .created_at = kT0}).code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(db.get_conversation("nope").error().code(), StatusCode::not_found);
}

TYPED_TEST_P(StorageChatConformance, MembershipAddRemoveListIsMember) {
    auto& db = this->db();
    this->conversation("g", {});
    EXPECT_EQ(db.add_member("g", "bob", kT0).value(), true);
    EXPECT_EQ(db.add_member("g", "alice", kT0 + 5).value(), true);
    EXPECT_EQ(db.add_member("g", "alice", kT0 + 6).value(), false);  // already a member
    auto list = db.members("g");
    ASSERT_TRUE(list.has_value());
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].user_id, "alice");
    EXPECT_EQ((*list)[0].joined_at, kT0 + 5);
    EXPECT_EQ((*list)[1].user_id, "bob");
    EXPECT_TRUE(db.is_member("g", "bob").value());
    EXPECT_FALSE(db.is_member("g", "carol").value());
    EXPECT_FALSE(db.is_member("unknown", "bob").value());
    EXPECT_EQ(db.remove_member("g", "bob").value(), true);
    EXPECT_EQ(db.remove_member("g", "bob").value(), false);
    EXPECT_FALSE(db.is_member("g", "bob").value());
    EXPECT_EQ(db.add_member("unknown", "bob", kT0).error().code(), StatusCode::not_found);
    EXPECT_EQ(db.members("unknown").error().code(), StatusCode::not_found);
    EXPECT_EQ(db.remove_member("unknown", "bob").error().code(), StatusCode::not_found);
}

TYPED_TEST_P(StorageChatConformance, DirectConversationTakesTwoMembers) {
    auto& db = this->db();
    this->conversation("d", {"alice", "bob"}, ConversationKind::direct);
    EXPECT_EQ(db.add_member("d", "carol", kT0).error().code(), StatusCode::failed_precondition);
    EXPECT_EQ(db.add_member("d", "bob", kT0).value(), false);  // re-adding is still fine
    ASSERT_TRUE(db.remove_member("d", "bob").has_value());
    EXPECT_EQ(db.add_member("d", "carol", kT0).value(), true);
}

TYPED_TEST_P(StorageChatConformance, ConversationsOfUser) {
    this->conversation("b", {"alice", "bob"});
    this->conversation("a", {"alice"});
    this->conversation("c", {"bob"});
    auto mine = this->db().conversations_of("alice");
    ASSERT_TRUE(mine.has_value());
    ASSERT_EQ(mine->size(), 2u);
    EXPECT_EQ((*mine)[0].id, "a");
    EXPECT_EQ((*mine)[1].id, "b");
    EXPECT_TRUE(this->db().conversations_of("nobody").value().empty());
}

TYPED_TEST_P(StorageChatConformance, AppendAssignsIdSeqAndStoresFields) {
    this->conversation("c", {"alice", "bob"});
    auto a = this->send("c", "alice", "hello", "k1");
    EXPECT_TRUE(a.created);
    const Message& m = a.message;
    ASSERT_EQ(m.id.size(), 36u);
    EXPECT_EQ(m.id[14], '7');  // UUIDv7
    EXPECT_EQ(m.seq, 1);
    EXPECT_EQ(m.conversation_id, "c");
    EXPECT_EQ(m.sender_id, "alice");
    EXPECT_EQ(m.content, "hello");
    EXPECT_EQ(m.type, "text");
    EXPECT_EQ(m.client_msg_id, std::optional<std::string>("k1"));
    EXPECT_EQ(m.created_at, kT0);
    EXPECT_FALSE(m.edited_at || m.deleted_at);
    auto b = this->send("c", "bob", "hi");
    EXPECT_EQ(b.message.seq, 2);
    EXPECT_NE(b.message.id, m.id);
    EXPECT_FALSE(b.message.client_msg_id.has_value());
    auto stored = this->db().get_message(m.id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->content, "hello");
    EXPECT_EQ(stored->seq, 1);
    EXPECT_EQ(stored->client_msg_id, m.client_msg_id);
    EXPECT_EQ(this->db().get_conversation("c")->last_seq, 2);
    EXPECT_EQ(this->db().get_message("nope").error().code(), StatusCode::not_found);
}

TYPED_TEST_P(StorageChatConformance, AppendChecksConversationMembershipAndInput) {
    auto& db = this->db();
    this->conversation("c", {"alice"});
    NewMessage m{.conversation_id = "c", .sender_id = "mallory", .content = "x", .created_at = kT0};
    EXPECT_EQ(db.append_message(m).error().code(), StatusCode::permission_denied);
    m.conversation_id = "nope";
    EXPECT_EQ(db.append_message(m).error().code(), StatusCode::not_found);
    m = {.conversation_id = "c", .sender_id = "", .content = "x", .created_at = kT0};
    EXPECT_EQ(db.append_message(m).error().code(), StatusCode::invalid_argument);
    m = {.conversation_id = "c", .sender_id = "alice", .content = "x", .client_msg_id = "",
         .created_at = kT0};
    EXPECT_EQ(db.append_message(m).error().code(), StatusCode::invalid_argument);
    m = {.conversation_id = "c", .sender_id = "alice", .content = "x", .created_at = kT0,
         .queue_for = {"bob"}};  // no expiry
    EXPECT_EQ(db.append_message(m).error().code(), StatusCode::invalid_argument);
    EXPECT_EQ(db.get_conversation("c")->last_seq, 0);  // nothing consumed a seq
}

TYPED_TEST_P(StorageChatConformance, ResendWithSameClientMsgIdReturnsTheOriginal) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    this->conversation("other", {"alice"});
    auto first = this->send("c", "alice", "hello", "k1", {"bob"});
    ASSERT_TRUE(first.created);
    EXPECT_EQ(first.queued, 1u);
    auto again = this->send("c", "alice", "hello (edited by the client?)", "k1", {"bob"}, kT0 + 9);
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.queued, 0u);
    EXPECT_EQ(again.message.id, first.message.id);
    EXPECT_EQ(again.message.seq, first.message.seq);
    EXPECT_EQ(again.message.content, "hello");
    EXPECT_EQ(again.message.created_at, kT0);
    EXPECT_EQ(db.get_conversation("c")->last_seq, 1);  // no seq consumed
    EXPECT_EQ(db.queue_depth("bob").value(), 1u);      // no second queue entry
    EXPECT_EQ(db.events_after("c", 0, 10)->events.size(), 1u);
    // The key is per (conversation, sender): others may use the same string.
    EXPECT_TRUE(this->send("c", "bob", "mine", "k1").created);
    EXPECT_TRUE(this->send("other", "alice", "there", "k1").created);
    EXPECT_EQ(this->send("c", "alice", "next", "k2").message.seq, 3);
}

TYPED_TEST_P(StorageChatConformance, SeqIsGapFreePerConversationUnderManyAppends) {
    auto& db = this->db();
    const std::vector<std::string> convs = {"c0", "c1", "c2"};
    for (const auto& c : convs) this->conversation(c, {"alice", "bob"});
    std::map<std::string, std::vector<int64_t>> got;
    for (int i = 0; i < 600; ++i) {
        const auto& c = convs[static_cast<size_t>(i * 7 % 3)];
        // A resend every 10th message must not take a number.
        auto a = this->send(c, i % 2 ? "alice" : "bob", "m" + std::to_string(i),
                            "k" + std::to_string(i));
        got[c].push_back(a.message.seq);
        if (i % 10 == 0) {
            EXPECT_FALSE(this->send(c, i % 2 ? "alice" : "bob", "again", "k" + std::to_string(i))
                             .created);
        }
    }
    for (const auto& c : convs) {
        const auto& s = got[c];
        ASSERT_EQ(s.size(), 200u);
        for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s[i], static_cast<int64_t>(i + 1)) << c;
        EXPECT_EQ(db.get_conversation(c)->last_seq, 200);
        auto events = db.events_after(c, 0, kMaxEventsLimit);
        ASSERT_TRUE(events.has_value());
        EXPECT_EQ(events->events.size(), 200u);
    }
}

TYPED_TEST_P(StorageChatConformance, EditAdvancesTheSequenceAndKeepsTheMessageSeq) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    auto m = this->send("c", "alice", "helo").message;
    auto e = db.edit_message(this->action("c", m.id, "alice", kT0 + 50), "hello");
    ASSERT_TRUE(e.has_value()) << e.error().to_string();
    ASSERT_TRUE(e->event.has_value());
    EXPECT_EQ(e->event->seq, 2);
    EXPECT_EQ(e->event->kind, EventKind::message_edited);
    EXPECT_EQ(e->event->actor_id, "alice");
    EXPECT_EQ(e->event->payload.get_string("content"), "hello");
    EXPECT_EQ(e->message.seq, 1);
    EXPECT_EQ(e->message.content, "hello");
    EXPECT_EQ(e->message.edited_at, std::optional<int64_t>(kT0 + 50));
    EXPECT_EQ(db.get_message(m.id)->content, "hello");
    // Same content again: nothing changes, no seq.
    auto same = db.edit_message(this->action("c", m.id, "alice"), "hello");
    ASSERT_TRUE(same.has_value());
    EXPECT_FALSE(same->event.has_value());
    EXPECT_EQ(db.get_conversation("c")->last_seq, 2);
    EXPECT_EQ(this->send("c", "bob", "next").message.seq, 3);
}

TYPED_TEST_P(StorageChatConformance, OnlyTheAuthorEditsOrDeletes) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    this->conversation("other", {"alice", "bob"});
    auto m = this->send("c", "alice", "mine").message;
    EXPECT_EQ(db.edit_message(this->action("c", m.id, "bob"), "x").error().code(),
              StatusCode::permission_denied);
    EXPECT_EQ(db.delete_message(this->action("c", m.id, "bob")).error().code(),
              StatusCode::permission_denied);
    EXPECT_EQ(db.edit_message(this->action("c", m.id, "mallory"), "x").error().code(),
              StatusCode::permission_denied);
    // The message must belong to the conversation named in the action.
    EXPECT_EQ(db.edit_message(this->action("other", m.id, "alice"), "x").error().code(),
              StatusCode::not_found);
    EXPECT_EQ(db.delete_message(this->action("c", "nope", "alice")).error().code(),
              StatusCode::not_found);
    EXPECT_EQ(db.get_conversation("c")->last_seq, 1);
    EXPECT_EQ(db.get_message(m.id)->content, "mine");
}

TYPED_TEST_P(StorageChatConformance, DeleteLeavesATombstoneAndAdvancesTheSequence) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    auto m = this->send("c", "alice", "oops").message;
    ASSERT_TRUE(db.add_reaction(this->action("c", m.id, "bob"), "👍").has_value());
    auto d = db.delete_message(this->action("c", m.id, "alice", kT0 + 70));
    ASSERT_TRUE(d.has_value()) << d.error().to_string();
    ASSERT_TRUE(d->event.has_value());
    EXPECT_EQ(d->event->kind, EventKind::message_deleted);
    EXPECT_EQ(d->event->seq, 3);
    EXPECT_EQ(d->message.content, "");
    auto stored = db.get_message(m.id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->content, "");
    EXPECT_EQ(stored->deleted_at, std::optional<int64_t>(kT0 + 70));
    EXPECT_EQ(stored->seq, 1);
    EXPECT_EQ(stored->sender_id, "alice");
    EXPECT_TRUE(stored->reactions.empty());
    // Deleting again is a no-op; editing or reacting to a tombstone is refused.
    auto again = db.delete_message(this->action("c", m.id, "alice"));
    ASSERT_TRUE(again.has_value());
    EXPECT_FALSE(again->event.has_value());
    EXPECT_EQ(db.edit_message(this->action("c", m.id, "alice"), "x").error().code(),
              StatusCode::failed_precondition);
    EXPECT_EQ(db.add_reaction(this->action("c", m.id, "bob"), "🎉").error().code(),
              StatusCode::failed_precondition);
    EXPECT_EQ(db.get_conversation("c")->last_seq, 3);
}

TYPED_TEST_P(StorageChatConformance, ReactionsAreOnePerUserPerEmojiAndIdempotent) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob", "carol"});
    auto m = this->send("c", "alice", "vote").message;
    auto r1 = db.add_reaction(this->action("c", m.id, "bob", kT0 + 1), "👍");
    ASSERT_TRUE(r1.has_value()) << r1.error().to_string();
    ASSERT_TRUE(r1->event.has_value());
    EXPECT_EQ(r1->event->kind, EventKind::reaction_added);
    EXPECT_EQ(r1->event->payload.get_string("emoji"), "👍");
    EXPECT_EQ(r1->event->seq, 2);
    auto dup = db.add_reaction(this->action("c", m.id, "bob", kT0 + 2), "👍");
    ASSERT_TRUE(dup.has_value());
    EXPECT_FALSE(dup->event.has_value());
    EXPECT_TRUE(db.add_reaction(this->action("c", m.id, "carol", kT0 + 3), "👍")->event);
    EXPECT_TRUE(db.add_reaction(this->action("c", m.id, "bob", kT0 + 4), "🎉")->event);
    auto stored = db.get_message(m.id);
    ASSERT_TRUE(stored.has_value());
    ASSERT_EQ(stored->reactions.size(), 3u);
    EXPECT_EQ(stored->reactions[0].user_id, "bob");
    EXPECT_EQ(stored->reactions[0].emoji, "👍");
    EXPECT_EQ(stored->reactions[1].user_id, "carol");
    EXPECT_EQ(stored->reactions[2].emoji, "🎉");
    auto rm = db.remove_reaction(this->action("c", m.id, "bob", kT0 + 5), "👍");
    ASSERT_TRUE(rm.has_value());
    ASSERT_TRUE(rm->event.has_value());
    EXPECT_EQ(rm->event->kind, EventKind::reaction_removed);
    EXPECT_FALSE(db.remove_reaction(this->action("c", m.id, "bob"), "👍")->event);
    EXPECT_EQ(db.get_message(m.id)->reactions.size(), 2u);
    EXPECT_EQ(db.get_conversation("c")->last_seq, 5);  // 1 message + 3 adds + 1 remove
    EXPECT_EQ(db.add_reaction(this->action("c", m.id, "mallory"), "👍").error().code(),
              StatusCode::permission_denied);
    EXPECT_EQ(db.add_reaction(this->action("c", m.id, "bob"), "").error().code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(db.add_reaction(this->action("c", m.id, "bob"), std::string(65, 'x')).error().code(),
              StatusCode::invalid_argument);
}

TYPED_TEST_P(StorageChatConformance, ReadReceiptsAndUnreadCounts) {
    auto& db = this->db();
    this->conversation("c", {"alice", "bob"});
    std::vector<Message> sent;
    for (int i = 0; i < 5; ++i)
        sent.push_back(this->send("c", "alice", "a" + std::to_string(i)).message);
    this->send("c", "bob", "from bob");  // seq 6
    auto find = [](const std::vector<ReadState>& v, const std::string& u) {
        for (const auto& s : v)
            if (s.user_id == u) return s;
        return ReadState{};
    };
    auto states = db.read_states("c");
    ASSERT_TRUE(states.has_value());
    EXPECT_EQ(find(*states, "bob").unread, 5);    // own messages do not count
    EXPECT_EQ(find(*states, "alice").unread, 1);
    auto r = db.mark_read("c", "bob", 3);
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_TRUE(r->changed);
    EXPECT_EQ(r->state.last_read_seq, 3);
    EXPECT_EQ(r->state.unread, 2);
    auto back = db.mark_read("c", "bob", 2);  // never moves back
    EXPECT_FALSE(back->changed);
    EXPECT_EQ(back->state.last_read_seq, 3);
    // A deleted message is not unread.
    ASSERT_TRUE(db.delete_message(this->action("c", sent[4].id, "alice")).has_value());
    EXPECT_EQ(find(db.read_states("c").value(), "bob").unread, 1);
    auto all = db.mark_read("c", "bob", 1000);  // clamped to the last seq
    EXPECT_EQ(all->state.last_read_seq, 7);
    EXPECT_EQ(all->state.unread, 0);
    EXPECT_EQ(db.members("c")->at(1).last_read_seq, 7);
    EXPECT_EQ(db.mark_read("c", "mallory", 1).error().code(), StatusCode::permission_denied);
    EXPECT_EQ(db.mark_read("nope", "bob", 1).error().code(), StatusCode::not_found);
    EXPECT_EQ(db.get_conversation("c")->last_seq, 7);  // reads take no seq
}

REGISTER_TYPED_TEST_SUITE_P(StorageChatConformance, CreateAndGetConversation,
                            MembershipAddRemoveListIsMember, DirectConversationTakesTwoMembers,
                            ConversationsOfUser, AppendAssignsIdSeqAndStoresFields,
                            AppendChecksConversationMembershipAndInput,
                            ResendWithSameClientMsgIdReturnsTheOriginal,
                            SeqIsGapFreePerConversationUnderManyAppends,
                            EditAdvancesTheSequenceAndKeepsTheMessageSeq,
                            OnlyTheAuthorEditsOrDeletes,
                            DeleteLeavesATombstoneAndAdvancesTheSequence,
                            ReactionsAreOnePerUserPerEmojiAndIdempotent,
                            ReadReceiptsAndUnreadCounts);

}  // namespace quckrt::testing
