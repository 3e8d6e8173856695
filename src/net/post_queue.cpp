#include "net/post_queue.hpp"

#include <libwebsockets.h>

namespace quckrt::net {

bool PostQueue::post(Task task) {
    lws_context* wake = nullptr;
    {
        std::lock_guard lock(mu_);
        if (closed_) return false;
        tasks_.push_back(std::move(task));
        wake = context_;
    }
    // Waking outside the lock: lws_cancel_service is thread-safe and may take its own lock.
    if (wake) lws_cancel_service(wake);
    return true;
}

void PostQueue::attach(lws_context* context) {
    std::lock_guard lock(mu_);
    context_ = context;
}

void PostQueue::close() {
    std::vector<Task> dropped;
    std::lock_guard lock(mu_);
    closed_ = true;
    context_ = nullptr;
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
