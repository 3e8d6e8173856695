#include "storage/storage_queue.hpp"

#include <pthread.h>

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

namespace quckrt::storage {

namespace detail {
void log_exception(const char* where) {
    try {
        throw;
    } catch (const std::exception& e) {
        spdlog::error("event=storage_exception where=\"{}\" what=\"{}\"", where, e.what());
    } catch (...) {
        spdlog::error("event=storage_exception where=\"{}\" what=unknown", where);
    }
}
}  // namespace detail

StorageQueue::StorageQueue(std::unique_ptr<Storage> storage, StorageQueueOptions options)
    : storage_(std::move(storage)), options_(std::move(options)) {
    options_.max_batch = std::max<size_t>(options_.max_batch, 1);
    writer_ = std::thread([this] { writer_loop(); });
    pthread_setname_np(writer_.native_handle(), "quckrt-storage");
}

StorageQueue::~StorageQueue() { stop(); }

Status StorageQueue::push(std::unique_ptr<Task> task) {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return unavailable("storage queue is stopped");
        if (pending_.size() >= options_.max_pending)
            return resource_exhausted("storage queue is full (" +
                                      std::to_string(options_.max_pending) +
                                      " operations pending); retry later");
        pending_.push_back(std::move(task));
    }
    wake_.notify_one();
    return Status();
}

void StorageQueue::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    // From a completion (the writer itself) joining would deadlock; the flag is enough
    // there and the owner's later stop() or destructor joins.
    if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

StorageQueueStats StorageQueue::stats() const {
    return {.ops = ops_.load(),
            .batches = batches_.load(),
            .failed_batches = failed_batches_.load(),
            .largest_batch = largest_batch_.load()};
}

void StorageQueue::writer_loop() {
    std::vector<std::unique_ptr<Task>> batch;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;  // stopping, and everything has been flushed
            const size_t n = std::min(pending_.size(), options_.max_batch);
            batch.clear();
            for (size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(pending_.front()));
                pending_.pop_front();
            }
        }
        run_batch(batch);
        batch.clear();  // destroy the tasks (and what their callbacks captured) here
    }
}

void StorageQueue::run_batch(std::vector<std::unique_ptr<Task>>& batch) {
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (batch.size() > largest_batch_.load(std::memory_order_relaxed))
        largest_batch_.store(batch.size(), std::memory_order_relaxed);
    Status st = storage_->begin_batch();
    if (st.ok()) {
        for (auto& t : batch) t->run(*storage_);
        st = storage_->commit_batch();
    }
    if (st.ok()) {
        ops_.fetch_add(batch.size(), std::memory_order_relaxed);
        for (auto& t : batch) t->complete();
        return;
    }
    storage_->rollback_batch();  // commit_batch already did; a failed begin may not have
    report(st);
    ops_.fetch_add(batch.size(), std::memory_order_relaxed);
    if (st.code() == StatusCode::internal && batch.size() > 1) {
        for (auto& t : batch) run_alone(*t);
    } else {
        for (auto& t : batch) t->fail(st);
    }
}

void StorageQueue::run_alone(Task& task) {
    batches_.fetch_add(1, std::memory_order_relaxed);
    Status st = storage_->begin_batch();
    if (st.ok()) {
        task.run(*storage_);
        st = storage_->commit_batch();
    }
    if (st.ok()) return task.complete();
    storage_->rollback_batch();
    report(st);
    task.fail(st);
}

void StorageQueue::report(const Status& batch_error) {
    failed_batches_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("event=storage_batch_failed code={} message=\"{}\"",
                  to_string(batch_error.code()), batch_error.message());
    if (options_.on_batch_error) options_.on_batch_error(batch_error);
}

}  // namespace quckrt::storage
