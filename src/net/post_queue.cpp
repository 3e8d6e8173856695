#include "net/post_queue.hpp"

#include <libwebsockets.h>

namespace quckrt::net {

bool PostQueue::post(Task task) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    tasks_.push_back(std::move(task));
    // Wake under the lock: close() takes it before the loop destroys its context, so a
    // context we wake is never a destroyed one. lws_cancel_service only writes to the
    // loop's wake pipe and calls nothing of ours, so holding our lock here cannot deadlock.
    if (context_) lws_cancel_service(context_);
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
