// StorageQueue: group commit, completion order and timing, bounded queue, failed batches
// and shutdown. The writer is held at a gate where a test needs a known batch layout, so
// nothing depends on timing.
#include "storage/storage_queue.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include <quckrt/backends/sqlite.hpp>

#include "conformance/forwarding_storage.hpp"
#include "conformance/storage_fixture.hpp"

namespace quckrt::storage {
namespace {

using quckrt::testing::kT0;
using quckrt::testing::kTtl;
using namespace std::chrono_literals;

// Gate: holds the writer thread inside an operation until the test opens it.
class Gate {
public:
    void pass() {  // called by the operation, on the writer thread
        std::unique_lock lock(mu_);
        entered_ = true;
        cv_.notify_all();
        cv_.wait(lock, [this] { return open_; });
    }
    void wait_entered() {
        std::unique_lock lock(mu_);
        ASSERT_TRUE(cv_.wait_for(lock, 10s, [this] { return entered_; }));
    }
    void open() {
        std::lock_guard lock(mu_);
        open_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool entered_ = false, open_ = false;
};

// Results: completions recorded in arrival order, with a wait for a count.
template <class R>
class Results {
public:
    void add(R r) {
        std::lock_guard lock(mu_);
        items_.push_back(std::move(r));
        cv_.notify_all();
    }
    bool wait_for(size_t n) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, 20s, [&] { return items_.size() >= n; });
    }
    std::vector<R> take() {
        std::lock_guard lock(mu_);
        return items_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<R> items_;
};

// FaultyStorage: a real SQLite storage whose Nth commit fails with a chosen status, and
// which counts the commits that went through.
class FaultyStorage final : public quckrt::testing::ForwardingStorage {
public:
    using ForwardingStorage::ForwardingStorage;
    Status commit_batch() override {
        if (++commit_calls == fail_commit_number) {
            inner().rollback_batch();
            return fail_with;
        }
        Status st = ForwardingStorage::commit_batch();
        if (st.ok()) ++commits;
        return st;
    }
    int commit_calls = 0;
    int fail_commit_number = -1;
    Status fail_with;
    std::atomic<int> commits{0};
};

std::unique_ptr<Storage> chat_storage() {
    auto s = make_sqlite_storage(":memory:");
    EXPECT_TRUE(s.has_value()) << s.error().to_string();
    Storage& db = **s;
    EXPECT_TRUE(db.create_conversation({.id = "c", .created_at = kT0}).ok());
    EXPECT_TRUE(db.add_member("c", "alice", kT0).has_value());
    EXPECT_TRUE(db.add_member("c", "bob", kT0).has_value());
    return std::move(*s);
}

NewMessage msg(int i, std::string sender = "alice") {
    return {.conversation_id = "c",
            .sender_id = std::move(sender),
            .content = "m" + std::to_string(i),
            .client_msg_id = "k" + std::to_string(i),
            .created_at = kT0 + i,
            .queue_for = {"bob"},
            .queue_expires_at = kT0 + kTtl};
}

// submit_append: queue an append whose result goes to `out`.
void submit_append(StorageQueue& q, Results<Result<Appended>>& out, NewMessage m) {
    Status st = q.submit([m = std::move(m)](Storage& s) { return s.append_message(m); },
                         [&out](Result<Appended> r) { out.add(std::move(r)); });
    ASSERT_TRUE(st.ok()) << st.to_string();
}

// submit_gate: queue an operation that holds the writer at the gate.
void submit_gate(StorageQueue& q, Gate& gate) {
    ASSERT_TRUE(q.submit([&gate](Storage&) {
                     gate.pass();
                     return Status();
                 },
                 [](Status) {})
                    .ok());
    gate.wait_entered();
}

TEST(StorageQueue, CompletionsComeInSubmitOrderWithTheirOwnResults) {
    StorageQueue q(chat_storage());
    Results<Result<Appended>> out;
    for (int i = 0; i < 100; ++i) submit_append(q, out, msg(i, i == 50 ? "mallory" : "alice"));
    ASSERT_TRUE(out.wait_for(100));
    auto results = out.take();
    int64_t expected_seq = 1;
    for (int i = 0; i < 100; ++i) {
        if (i == 50) {  // a data error fails its own operation, not the batch
            EXPECT_EQ(results[50].error().code(), StatusCode::permission_denied);
            continue;
        }
        ASSERT_TRUE(results[i].has_value()) << i << results[i].error().to_string();
        EXPECT_EQ(results[i]->message.content, "m" + std::to_string(i));
        EXPECT_EQ(results[i]->message.seq, expected_seq++);
    }
}

TEST(StorageQueue, ManySubmitsShareOneTransaction) {
    StorageQueue q(chat_storage());
    Gate gate;
    submit_gate(q, gate);
    Results<Result<Appended>> out;
    for (int i = 0; i < 1000; ++i) submit_append(q, out, msg(i));
    gate.open();
    ASSERT_TRUE(out.wait_for(1000));
    q.stop();
    const auto stats = q.stats();
    EXPECT_EQ(stats.batches, 2u);  // the gate's batch, then all 1000 appends in one
    EXPECT_EQ(stats.ops, 1001u);
    EXPECT_EQ(stats.largest_batch, 1000u);
    EXPECT_EQ(stats.failed_batches, 0u);
    for (const auto& r : out.take()) EXPECT_TRUE(r.has_value());
}

TEST(StorageQueue, MaxBatchBoundsATransaction) {
    StorageQueue q(chat_storage(), {.max_batch = 100});
    Gate gate;
    submit_gate(q, gate);
    Results<Result<Appended>> out;
    for (int i = 0; i < 1000; ++i) submit_append(q, out, msg(i));
    gate.open();
    ASSERT_TRUE(out.wait_for(1000));
    q.stop();
    EXPECT_EQ(q.stats().batches, 11u);
    EXPECT_EQ(q.stats().largest_batch, 100u);
}

TEST(StorageQueue, CompletionRunsOnlyAfterItsBatchCommitted) {
    auto faulty = std::make_unique<FaultyStorage>(chat_storage());
    FaultyStorage* f = faulty.get();
    StorageQueue q(std::move(faulty));
    Results<int> commits_seen;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(q.submit([m = msg(i)](Storage& s) { return s.append_message(m); },
                             [&](Result<Appended> r) {
                                 EXPECT_TRUE(r.has_value());
                                 commits_seen.add(f->commits.load());
                             })
                        .ok());
    }
    ASSERT_TRUE(commits_seen.wait_for(20));
    for (int c : commits_seen.take()) EXPECT_GE(c, 1);
}

TEST(StorageQueue, ReadsSeeEveryEarlierWrite) {
    StorageQueue q(chat_storage());
    Results<Result<Appended>> sent;
    Results<Result<HistoryPage>> pages;
    for (int i = 0; i < 5; ++i) submit_append(q, sent, msg(i));
    ASSERT_TRUE(q.submit([](Storage& s) { return s.history({.conversation_id = "c"}); },
                         [&](Result<HistoryPage> p) { pages.add(std::move(p)); })
                    .ok());
    ASSERT_TRUE(pages.wait_for(1));
    auto page = pages.take()[0];
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(page->messages.size(), 5u);
}

TEST(StorageQueue, AFullQueueRefusesWithResourceExhausted) {
    StorageQueue q(chat_storage(), {.max_pending = 5});
    Gate gate;
    submit_gate(q, gate);  // taken by the writer: no longer pending
    Results<Result<Appended>> out;
    for (int i = 0; i < 5; ++i) submit_append(q, out, msg(i));
    bool called = false;
    Status st = q.submit([](Storage& s) { return s.append_message(msg(99)); },
                         [&](Result<Appended>) { called = true; });
    EXPECT_EQ(st.code(), StatusCode::resource_exhausted);
    gate.open();
    ASSERT_TRUE(out.wait_for(5));
    q.stop();
    EXPECT_FALSE(called);
    EXPECT_EQ(q.stats().ops, 6u);
}

TEST(StorageQueue, StopFlushesEverythingQueuedThenRefuses) {
    auto storage = chat_storage();
    Storage* raw = storage.get();
    StorageQueue q(std::move(storage));
    Gate gate;
    submit_gate(q, gate);
    Results<Result<Appended>> out;
    for (int i = 0; i < 500; ++i) submit_append(q, out, msg(i));
    std::thread stopper([&] { q.stop(); });  // stop() waits for the flush
    gate.open();
    stopper.join();
    EXPECT_EQ(out.take().size(), 500u);
    for (const auto& r : out.take()) EXPECT_TRUE(r.has_value());
    // The writer has exited (joined), so the storage may be read from here.
    EXPECT_EQ(raw->get_conversation("c")->last_seq, 500);
    EXPECT_EQ(raw->queue_depth("bob").value(), 500u);
    EXPECT_EQ(q.submit([](Storage&) { return Status(); }, [](Status) {}).code(),
              StatusCode::unavailable);
    q.stop();  // idempotent
}

TEST(StorageQueue, DestructorFlushes) {
    Results<Result<Appended>> out;
    {
        StorageQueue q(chat_storage());
        for (int i = 0; i < 200; ++i) submit_append(q, out, msg(i));
    }
    EXPECT_EQ(out.take().size(), 200u);
}

TEST(StorageQueue, AnEnvironmentalBatchFailureFailsEveryOperationInIt) {
    auto faulty = std::make_unique<FaultyStorage>(chat_storage());
    faulty->fail_commit_number = 2;  // the batch after the gate's
    faulty->fail_with = unavailable("disk went away");
    Storage* raw = faulty.get();
    std::vector<Status> reported;
    StorageQueue q(std::move(faulty),
                   {.on_batch_error = [&](const Status& s) { reported.push_back(s); }});
    Gate gate;
    submit_gate(q, gate);
    Results<Result<Appended>> out;
    for (int i = 0; i < 10; ++i) submit_append(q, out, msg(i));
    gate.open();
    ASSERT_TRUE(out.wait_for(10));
    for (const auto& r : out.take()) EXPECT_EQ(r.error().code(), StatusCode::unavailable);
    // Afterwards the queue works again, and nothing of the failed batch was kept.
    Results<Result<Appended>> later;
    submit_append(q, later, msg(0));
    ASSERT_TRUE(later.wait_for(1));
    ASSERT_TRUE(later.take()[0].has_value());
    EXPECT_EQ(later.take()[0]->message.seq, 1);
    EXPECT_TRUE(later.take()[0]->created);
    q.stop();
    EXPECT_EQ(q.stats().failed_batches, 1u);
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_EQ(reported[0].code(), StatusCode::unavailable);
    EXPECT_EQ(raw->queue_depth("bob").value(), 1u);
}

TEST(StorageQueue, AnInternalBatchFailureIsRetriedOneOperationAtATime) {
    auto faulty = std::make_unique<FaultyStorage>(chat_storage());
    faulty->fail_commit_number = 2;
    faulty->fail_with = internal_error("constraint failed");
    StorageQueue q(std::move(faulty));
    Gate gate;
    submit_gate(q, gate);
    Results<Result<Appended>> out;
    for (int i = 0; i < 10; ++i) submit_append(q, out, msg(i));
    gate.open();
    ASSERT_TRUE(out.wait_for(10));
    auto results = out.take();
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(results[i].has_value()) << results[i].error().to_string();
        EXPECT_EQ(results[i]->message.seq, i + 1);  // no gap left by the failed attempt
    }
    q.stop();
    EXPECT_EQ(q.stats().failed_batches, 1u);
    EXPECT_EQ(q.stats().batches, 1u + 1u + 10u);  // gate, failed batch, ten single retries
}

TEST(StorageQueue, AnOperationThatThrowsGetsInternalAndOthersGoOn) {
    StorageQueue q(chat_storage());
    Results<Status> thrown;
    Results<Result<Appended>> out;
    ASSERT_TRUE(q.submit([](Storage&) -> Status { throw std::runtime_error("boom"); },
                         [&](Status s) { thrown.add(s); })
                    .ok());
    submit_append(q, out, msg(1));
    ASSERT_TRUE(thrown.wait_for(1));
    ASSERT_TRUE(out.wait_for(1));
    EXPECT_EQ(thrown.take()[0].code(), StatusCode::internal);
    EXPECT_TRUE(out.take()[0].has_value());
}

TEST(StorageQueue, ACompletionMaySubmitAFollowUp) {
    StorageQueue q(chat_storage());
    Results<Result<AckResult>> acks;
    ASSERT_TRUE(q.submit([](Storage& s) { return s.append_message(msg(1)); },
                         [&](Result<Appended> r) {
                             ASSERT_TRUE(r.has_value());
                             const std::string id = r->message.id;
                             Status st = q.submit([id](Storage& s) { return s.ack("bob", id); },
                                                  [&](Result<AckResult> a) { acks.add(a); });
                             EXPECT_TRUE(st.ok());
                         })
                    .ok());
    ASSERT_TRUE(acks.wait_for(1));
    auto a = acks.take()[0];
    ASSERT_TRUE(a.has_value());
    EXPECT_TRUE(a->deleted);
    EXPECT_EQ(a->sender_id, "alice");
}

}  // namespace
}  // namespace quckrt::storage
