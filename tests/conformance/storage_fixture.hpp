// StorageTest<Factory>: the fixture of the Storage conformance suites. Factory is a
// default-constructible type with `std::unique_ptr<quckrt::Storage> make()` returning a
// fresh, empty storage; the fixture keeps the factory alive until after the storage is
// destroyed, so a factory can own (and clean up) a temp file.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <quckrt/storage.hpp>

namespace quckrt::testing {

inline constexpr int64_t kT0 = 1'700'000'000'000;       // a fixed "now", unix ms
inline constexpr int64_t kTtl = 7LL * 24 * 3600 * 1000;  // the 7-day queue TTL

template <class Factory>
class StorageTest : public ::testing::Test {
protected:
    void SetUp() override {
        storage_ = factory_.make();
        ASSERT_NE(storage_, nullptr);
    }
    void TearDown() override { storage_.reset(); }

    Storage& db() { return *storage_; }

    // conversation(id, kind, members): create it with its members.
    void conversation(const std::string& id, std::vector<std::string> member_ids,
                      ConversationKind kind = ConversationKind::group) {
        ASSERT_TRUE(db().create_conversation({.id = id, .kind = kind, .created_at = kT0}).ok());
        for (const auto& u : member_ids) {
            auto added = db().add_member(id, u, kT0);
            ASSERT_TRUE(added.has_value()) << added.error().to_string();
        }
    }

    // send(...): append a message, failing the test when the append fails.
    Appended send(const std::string& conv, const std::string& sender, const std::string& content,
                  std::optional<std::string> client_msg_id = std::nullopt,
                  std::vector<std::string> queue_for = {}, int64_t at = kT0) {
        auto r = db().append_message({.conversation_id = conv,
                                      .sender_id = sender,
                                      .content = content,
                                      .client_msg_id = std::move(client_msg_id),
                                      .created_at = at,
                                      .queue_for = std::move(queue_for),
                                      .queue_expires_at = at + kTtl});
        EXPECT_TRUE(r.has_value()) << r.error().to_string();
        return r ? *r : Appended{};
    }

    MessageAction action(const std::string& conv, const std::string& message_id,
                         const std::string& actor, int64_t at = kT0 + 1) {
        return {.conversation_id = conv, .message_id = message_id, .actor_id = actor, .at = at};
    }

    // seqs(events): the seq of each event.
    static std::vector<int64_t> seqs(const std::vector<ConversationEvent>& events) {
        std::vector<int64_t> out;
        for (const auto& e : events) out.push_back(e.seq);
        return out;
    }
    static std::vector<int64_t> seqs(const std::vector<Message>& messages) {
        std::vector<int64_t> out;
        for (const auto& m : messages) out.push_back(m.seq);
        return out;
    }

    Factory factory_;  // declared first: outlives storage_
    std::unique_ptr<Storage> storage_;
};

}  // namespace quckrt::testing
