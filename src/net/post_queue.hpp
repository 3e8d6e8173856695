// PostQueue: the one thread-safe way into a loop (uWS `defer`, the lws threads example).
// Any thread may post a task; the loop wakes (a uv_async_t on the loop's libuv loop) and
// runs the tasks in post order on its own thread. Held by shared_ptr so that handles which
// outlive the server (a Responder kept by host code) fail cleanly instead of touching a
// dead loop.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include <uv.h>

namespace quckrt::net {

class PostQueue {
public:
    using Task = std::function<void()>;

    // post(task): queue and wake the loop. Returns false once the loop has shut down.
    bool post(Task task);

    // Loop side. attach(wake): the async handle to signal on post; it must stay open until
    // close() returned.
    void attach(uv_async_t* wake);
    void close();          // refuse further posts, forget queued ones, stop signalling wake
    void run_pending();    // run everything queued so far

private:
    std::mutex mu_;
    std::vector<Task> tasks_;
    uv_async_t* wake_ = nullptr;
    bool closed_ = false;
};

}  // namespace quckrt::net
