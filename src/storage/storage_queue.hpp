// StorageQueue: the one thread that talks to a Storage. Loop threads never block on the
// database: they submit an operation with a completion callback and go on.
//
// Group commit. The writer takes everything queued (up to max_batch) and runs it inside ONE
// transaction (Storage::begin_batch / commit_batch), then calls each completion in submit
// order. While one batch commits, the next accumulates, so under load each commit carries
// hundreds of operations and the cost of a commit is shared; a lone operation still runs
// at once (nothing waits for a batch to fill).
//
// A completion reports the operation's own result, and only after its batch committed: an
// ok completion means the change is durable (as durable as the Storage promises). If the
// batch fails to commit, nothing in it was applied:
//   - an `internal` failure (a constraint the code should have prevented, one bad
//     operation) is isolated: every operation of the batch is run again in its own
//     transaction and gets its own outcome;
//   - any other failure (I/O, busy, disk full) is environmental: every operation of the
//     batch gets that error at once (retrying one by one would only repeat it N times).
// options.on_batch_error hears about each failed batch either way.
//
// Reads go through the same queue. They are cheap next to a commit, they see every write
// submitted before them (read-your-writes: a history request after a send sees the send),
// and one connection keeps ":memory:" databases and single-file setups simple. A host with
// read-heavy traffic can run a second StorageQueue on a second Storage opened on the same
// file for reads only: WAL lets it read while this one writes.
//
// Thread affinity: submit() and stats() from any thread. Operations and completions run on
// the writer thread, in submit order; a completion must not block for long (it delays
// every later operation) and posts to its loop to continue there. stop() and the destructor
// from any thread but the writer (not from inside a completion).
//
// Example:
//   StorageQueue q(std::move(*make_sqlite_storage(path)));
//   Status st = q.submit(
//       [msg](Storage& s) { return s.append_message(msg); },
//       [loop](Result<Appended> r) { loop->post([r = std::move(r)] { reply(r); }); });
//   if (!st.ok()) reply_error(st);   // resource_exhausted: queue full; unavailable: stopped
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <quckrt/status.hpp>
#include <quckrt/storage.hpp>

namespace quckrt::storage {

struct StorageQueueOptions {
    // Operations waiting for the writer. submit() beyond this fails with resource_exhausted,
    // so memory stays bounded and the caller can refuse the request (and say retry later).
    size_t max_pending = 200000;
    // Most operations per transaction. Batches only grow this large when the writer is
    // saturated (below that, each batch holds what arrived during the previous commit), and
    // then bigger is faster: appends to many conversations dirty index pages at random, and
    // a larger batch shares each dirty page among more appends. Measured at 1M messages over
    // 5000 conversations (32 MiB cache): 8192 gave 35 us of writer CPU per append, 32768
    // gave 27 us.
    size_t max_batch = 32768;
    // Told about every batch that failed to commit (on the writer thread; must not block).
    std::function<void(const Status&)> on_batch_error{};
};

struct StorageQueueStats {
    uint64_t ops = 0;             // operations whose completion has been called
    uint64_t batches = 0;         // transactions opened for batches (committed or not)
    uint64_t failed_batches = 0;  // batches that did not commit
    uint64_t largest_batch = 0;   // most operations one batch carried
};

class StorageQueue {
public:
    explicit StorageQueue(std::unique_ptr<Storage> storage, StorageQueueOptions options = {});
    // ~StorageQueue(): stop(): everything already submitted is run and completed first.
    ~StorageQueue();
    StorageQueue(const StorageQueue&) = delete;
    StorageQueue& operator=(const StorageQueue&) = delete;

    // submit(op, done): queue op(Storage&) -> R (R is Status or Result<T>); done(R) is called
    // on the writer thread once op's batch has committed, or with the batch's error. On a
    // non-ok return (resource_exhausted: queue full; unavailable: stopped) neither op nor
    // done is ever called.
    template <class Op, class Done>
    Status submit(Op op, Done done);

    // stop(): refuse new submissions, run and complete everything queued, end the thread.
    // Idempotent.
    void stop();

    StorageQueueStats stats() const;

private:
    struct Task {
        virtual ~Task() = default;
        virtual void run(Storage& storage) = 0;    // inside the batch transaction
        virtual void fail(const Status& why) = 0;  // the batch did not commit: done(error)
        virtual void complete() = 0;               // the batch committed: done(result)
    };
    template <class Op, class Done, class R>
    struct TaskImpl;

    Status push(std::unique_ptr<Task> task);
    void writer_loop();
    void run_batch(std::vector<std::unique_ptr<Task>>& batch);
    // run_alone(task): one task in its own transaction, completed or failed.
    void run_alone(Task& task);
    void report(const Status& batch_error);

    std::unique_ptr<Storage> storage_;
    StorageQueueOptions options_;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<Task>> pending_;  // guarded by mu_
    bool stopping_ = false;                      // guarded by mu_
    std::atomic<uint64_t> ops_{0}, batches_{0}, failed_batches_{0}, largest_batch_{0};
    std::thread writer_;  // last: starts once everything above exists
};

namespace detail {
// log_exception(where): log the exception being handled; operations and completions that
// throw are contained so the writer thread goes on.
void log_exception(const char* where);
}  // namespace detail

template <class Op, class Done, class R>
struct StorageQueue::TaskImpl final : Task {
    TaskImpl(Op o, Done d) : op(std::move(o)), done(std::move(d)) {}
    void run(Storage& storage) override {
        try {
            result.emplace(op(storage));
        } catch (...) {
            detail::log_exception("storage operation");
            result.emplace(R(internal_error("storage operation threw an exception")));
        }
    }
    void fail(const Status& why) override { finish(R(why)); }
    void complete() override { finish(std::move(*result)); }
    void finish(R r) {
        try {
            done(std::move(r));
        } catch (...) {
            detail::log_exception("storage completion");
        }
    }
    Op op;
    Done done;
    std::optional<R> result;
};

template <class Op, class Done>
Status StorageQueue::submit(Op op, Done done) {
    using R = std::invoke_result_t<Op&, Storage&>;
    static_assert(std::is_constructible_v<R, Status>,
                  "a storage operation returns Status or Result<T>");
    static_assert(std::is_invocable_v<Done&, R>, "the completion takes the operation's result");
    return push(std::make_unique<TaskImpl<Op, Done, R>>(std::move(op), std::move(done)));
}

}  // namespace quckrt::storage
