#include "net/post_queue.hpp"

namespace quckrt::net {

bool PostQueue::post(Task task) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    const bool was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
    // Wake under the lock: close() takes it before the loop closes the async handle, so a
    // handle we signal is never a closed one. uv_async_send is thread-safe and calls nothing
    // of ours. A non-empty queue has been signalled already (libuv coalesces sends anyway;
    // skipping saves the eventfd write per post during a burst).
    if (wake_ && was_empty) uv_async_send(wake_);
    return true;
}

void PostQueue::attach(uv_async_t* wake) {
    std::lock_guard lock(mu_);
    wake_ = wake;
    if (!tasks_.empty() && wake_) uv_async_send(wake_);
}

void PostQueue::close() {
    std::vector<Task> dropped;
    std::lock_guard lock(mu_);
    closed_ = true;
    wake_ = nullptr;
    dropped.swap(tasks_);
}

void PostQueue::run_pending() {
    std::vector<Task> batch;
    {
        std::lock_guard lock(mu_);
        batch.swap(tasks_);
    }
    for (auto& task : batch) task();
}

}  // namespace quckrt::net
