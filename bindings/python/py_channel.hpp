// Python channel handlers behind quckrt::Channel.
//
// A Python handler class registered with Server.channel() is wrapped on the Python side in
// quckrt.server._Adapter, whose methods never raise and return plain tuples. PyChannel is the
// C++ Channel that calls that adapter: it acquires the GIL for each callback (they run on the
// server's loop threads), converts payloads, and hands the handler a Socket that is only
// usable during the callback, on that loop thread.
//
// Thread affinity: PyChannel callbacks run on a loop thread and take the GIL themselves; every
// other entry point here expects the GIL to be held by the caller.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <quckrt/channel.hpp>
#include <string>
#include <thread>

namespace quckrt::python {

// PyRef: a Python object owned from C++ code that may drop it without the GIL (a channel
// factory inside the router, a ServerOptions::on_error callback). The destructor takes the
// GIL to release the reference.
struct PyRef {
    explicit PyRef(pybind11::object o) : obj(std::move(o)) {}
    ~PyRef();
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    pybind11::object obj;
};

// in_loop_callback(): true while this thread runs a Python channel callback or on_error; such
// a thread is a server loop and must never wait for the server to stop.
bool in_loop_callback();

// CallbackScope: marks the current thread as inside a loop callback (nestable).
class CallbackScope {
  public:
    CallbackScope();
    ~CallbackScope();
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;
};

// PySocket: quckrt.Socket, the handler's view of its channel. topic, user_id and claims can
// be read at any time; push/broadcast/responder only during a callback on the loop thread.
class PySocket {
  public:
    PySocket(std::string topic, std::string user_id, pybind11::object claims)
        : topic_(std::move(topic)), user_id_(std::move(user_id)), claims_(std::move(claims)) {}

    const std::string& topic() const { return topic_; }
    const std::string& user_id() const { return user_id_; }
    pybind11::object claims() const { return claims_; }
    bool active() const { return socket_ != nullptr; }

    void push(const std::string& event, pybind11::handle payload);
    void broadcast(const std::string& event, pybind11::handle payload);
    void broadcast_from(const std::string& event, pybind11::handle payload);
    void broadcast_to(const std::string& topic, const std::string& event, pybind11::handle payload);
    Responder responder();

    // Activation is done by PyChannel around each callback.
    void activate(Socket* socket) {
        socket_ = socket;
        owner_ = std::this_thread::get_id();
    }
    void deactivate() { socket_ = nullptr; }

  private:
    Socket& active_socket() const;

    std::string topic_;
    std::string user_id_;
    pybind11::object claims_;
    Socket* socket_ = nullptr;
    std::thread::id owner_{};
};

// bind_channel_types(m): registers Socket and Responder on the extension module.
void bind_channel_types(pybind11::module_& m);

// make_channel_factory(factory): a ChannelFactory whose channels call factory() (a Python
// callable returning a quckrt.server._Adapter) on first join. Never throws.
ChannelFactory make_channel_factory(std::shared_ptr<PyRef> factory);

}  // namespace quckrt::python
