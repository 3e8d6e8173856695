// PostQueue: the one thread-safe way into a loop (uWS `defer`, the lws threads example).
// Any thread may post a task; the loop wakes (lws_cancel_service) and runs the tasks in
// post order on its own thread. Held by shared_ptr so that handles which outlive the
// server (a Responder kept by host code) fail cleanly instead of touching a dead loop.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

struct lws_context;

namespace quckrt::net {

class PostQueue {
public:
    using Task = std::function<void()>;

    // post(task): queue and wake the loop. Returns false once the loop has shut down.
    bool post(Task task);

    // Loop side.
    void attach(lws_context* context);
    void close();          // refuse further posts and forget queued ones
    void run_pending();    // run everything queued so far

private:
    std::mutex mu_;
    std::vector<Task> tasks_;
    lws_context* context_ = nullptr;
    bool closed_ = false;
};

}  // namespace quckrt::net
