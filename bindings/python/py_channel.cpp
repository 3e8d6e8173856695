#include "py_channel.hpp"

#include <pybind11/stl.h>

#include "json_convert.hpp"

namespace py = pybind11;

namespace quckrt::python {
namespace {

thread_local int g_callback_depth = 0;

[[noreturn]] void raise_runtime(const std::string& message) {
    PyErr_SetString(PyExc_RuntimeError, message.c_str());
    throw py::error_already_set();
}

Json object_payload(py::handle payload, const char* what) {
    if (payload.is_none()) return Json::object();
    Json json = to_json(payload);
    if (!json.is_object()) {
        PyErr_SetString(PyExc_TypeError, (std::string(what) + " payload must be a dict").c_str());
        throw py::error_already_set();
    }
    return json;
}

const char* reason_name(TerminateReason reason) {
    switch (reason) {
        case TerminateReason::left:
            return "left";
        case TerminateReason::duplicate_join:
            return "duplicate_join";
        case TerminateReason::closed:
            return "closed";
        case TerminateReason::stopped:
            return "stopped";
        case TerminateReason::shutdown:
            return "shutdown";
    }
    return "closed";
}

// Activation: the Socket is usable by Python only while this lives (one callback).
class Activation {
  public:
    Activation(PySocket* py_socket, Socket& socket) : py_socket_(py_socket) {
        if (py_socket_) py_socket_->activate(&socket);
    }
    ~Activation() {
        if (py_socket_) py_socket_->deactivate();
    }
    Activation(const Activation&) = delete;
    Activation& operator=(const Activation&) = delete;

  private:
    PySocket* py_socket_;
};

class PyChannel final : public Channel {
  public:
    explicit PyChannel(std::shared_ptr<PyRef> factory) : factory_(std::move(factory)) {}

    ~PyChannel() override {
        if (!adapter_ && !socket_obj_) return;
        if (!Py_IsInitialized()) {  // the interpreter is gone; nothing left to release into
            adapter_.release();
            socket_obj_.release();
            return;
        }
        py::gil_scoped_acquire gil;
        adapter_ = py::object();
        socket_obj_ = py::object();
    }

    JoinResult join(const Json& params, Socket& s) override {
        py::gil_scoped_acquire gil;
        CallbackScope scope;
        try {
            if (!socket_obj_) {
                auto py_socket = std::make_unique<PySocket>(s.topic(), s.user().user_id,
                                                            from_json(s.user().claims));
                socket_ = py_socket.get();
                socket_obj_ = py::cast(std::move(py_socket));
            }
            adapter_ = factory_->obj();
            Activation active(socket_, s);
            py::tuple r = adapter_.attr("join")(s.topic(), from_json(params), socket_obj_);
            const bool ok = r[0].cast<bool>();
            Json response = to_json(r[1]);
            if (!response.is_object()) response = Json::object({{"reason", "invalid join reply"}});
            return ok ? JoinResult::ok(std::move(response))
                      : JoinResult::error(std::move(response));
        } catch (py::error_already_set& e) {
            report("join", e);
        } catch (const std::exception& e) {
            report_text("join", e.what());
        }
        return JoinResult::error("join crashed");
    }

    void after_join(Socket& s) override {
        py::gil_scoped_acquire gil;
        CallbackScope scope;
        if (!adapter_) return;
        try {
            Activation active(socket_, s);
            adapter_.attr("after_join")(socket_obj_);
        } catch (py::error_already_set& e) {
            report("after_join", e);
        }
    }

    Reply handle_in(const InMessage& m, Socket& s) override {
        py::gil_scoped_acquire gil;
        CallbackScope scope;
        if (!adapter_) return Reply::error("handler_error");
        try {
            Activation active(socket_, s);
            py::object payload = m.is_binary
                                     ? py::object(py::bytes(m.binary.data(), m.binary.size()))
                                     : from_json(m.payload);
            py::tuple r = adapter_.attr("handle_in")(py::str(m.event.data(), m.event.size()),
                                                     payload, socket_obj_);
            const std::string kind = r[0].cast<std::string>();
            if (kind == "none") return Reply::none();
            if (kind == "stop") return Reply::stop();
            Json response = to_json(r[2]);
            if (!response.is_object()) response = Json::object({{"value", std::move(response)}});
            return Reply::status(r[1].cast<std::string>(), std::move(response));
        } catch (py::error_already_set& e) {
            report("handle_in", e);
        } catch (const std::exception& e) {
            report_text("handle_in", e.what());
        }
        return Reply::error("handler_error");
    }

    void terminate(TerminateReason reason, Socket& s) override {
        py::gil_scoped_acquire gil;
        CallbackScope scope;
        if (!adapter_) return;
        try {
            Activation active(socket_, s);
            adapter_.attr("terminate")(reason_name(reason), socket_obj_);
        } catch (py::error_already_set& e) {
            report("terminate", e);
        }
    }

  private:
    // report: hand a failure of the glue itself (e.g. a reply that is not JSON) to the
    // adapter, which logs it and calls the server's on_error. GIL held.
    void report(const char* where, py::error_already_set& e) {
        if (adapter_) {
            try {
                adapter_.attr("report")(where, e.value());
                return;
            } catch (py::error_already_set& nested) {
                nested.discard_as_unraisable(where);
            }
        }
        e.discard_as_unraisable(where);
    }

    void report_text(const char* where, const char* what) {
        PyErr_SetString(PyExc_RuntimeError, what);
        py::error_already_set e;
        report(where, e);
    }

    std::shared_ptr<PyRef> factory_;
    py::object adapter_;
    py::object socket_obj_;
    PySocket* socket_ = nullptr;  // owned by socket_obj_
};

}  // namespace

PyRef::~PyRef() {
    if (!obj) return;
    if (!Py_IsInitialized()) {
        obj.release();
        return;
    }
    py::gil_scoped_acquire gil;
    obj = py::object();
}

bool in_loop_callback() { return g_callback_depth > 0; }
CallbackScope::CallbackScope() { ++g_callback_depth; }
CallbackScope::~CallbackScope() { --g_callback_depth; }

Socket& PySocket::active_socket() const {
    if (!socket_)
        raise_runtime("quckrt.Socket for '" + topic_ +
                      "' used outside its channel callback; use Server.broadcast() or a "
                      "Responder (socket.responder()) to reach clients later");
    if (owner_ != std::this_thread::get_id())
        raise_runtime("quckrt.Socket for '" + topic_ +
                      "' used from another thread; it belongs to the server loop running the "
                      "callback");
    return *socket_;
}

void PySocket::push(const std::string& event, py::handle payload) {
    Socket& s = active_socket();
    s.push(event, object_payload(payload, "push"));
}

void PySocket::broadcast(const std::string& event, py::handle payload) {
    Socket& s = active_socket();
    s.broadcast(event, object_payload(payload, "broadcast"));
}

void PySocket::broadcast_from(const std::string& event, py::handle payload) {
    Socket& s = active_socket();
    s.broadcast_from(event, object_payload(payload, "broadcast_from"));
}

void PySocket::broadcast_to(const std::string& topic, const std::string& event,
                            py::handle payload) {
    Socket& s = active_socket();
    s.broadcast_to(topic, event, object_payload(payload, "broadcast_to"));
}

Responder PySocket::responder() { return active_socket().responder(); }

ChannelFactory make_channel_factory(std::shared_ptr<PyRef> factory) {
    return [factory] { return std::make_unique<PyChannel>(factory); };
}

void bind_channel_types(py::module_& m) {
    py::class_<PySocket>(m, "Socket",
                         "The handler's handle on one joined topic of one connection.\n\n"
                         "`topic`, `user_id` and `claims` can be read at any time. `push`, "
                         "`broadcast`, `broadcast_from`, `broadcast_to` and `responder` work "
                         "only inside a handler callback, on the thread running it; anything "
                         "else raises RuntimeError.")
        .def_property_readonly("topic", &PySocket::topic, "The joined topic, e.g. 'room:42'.")
        .def_property_readonly("user_id", &PySocket::user_id,
                               "The authenticated user (the token's `sub`).")
        .def_property_readonly("claims", &PySocket::claims,
                               "Every verified claim of the connection's token, as a dict.")
        .def_property_readonly("active", &PySocket::active,
                               "True while a callback of this channel runs.")
        .def("push", &PySocket::push, py::arg("event"), py::arg("payload") = py::none(),
             "Send `event` with `payload` (a dict) to this channel's client only.")
        .def("broadcast", &PySocket::broadcast, py::arg("event"), py::arg("payload") = py::none(),
             "Send to every subscriber of this topic, this client included.")
        .def("broadcast_from", &PySocket::broadcast_from, py::arg("event"),
             py::arg("payload") = py::none(),
             "Send to every subscriber of this topic except this channel.")
        .def("broadcast_to", &PySocket::broadcast_to, py::arg("topic"), py::arg("event"),
             py::arg("payload") = py::none(), "Send to every subscriber of another topic.")
        .def("responder", &PySocket::responder,
             "During handle_in: a Responder that answers the current push later, from any "
             "thread. Return quckrt.Reply.none() from handle_in when you use it.")
        .def("__repr__", [](const PySocket& s) {
            return "<quckrt.Socket topic=" + py::repr(py::str(s.topic())).cast<std::string>() +
                   " user_id=" + py::repr(py::str(s.user_id())).cast<std::string>() + ">";
        });

    py::class_<Responder>(m, "Responder",
                          "Answers one client push later, from any thread. Only the first "
                          "reply counts; replies after the channel ended are dropped.")
        .def(
            "reply",
            [](const Responder& r, const std::string& status, py::handle response) {
                Reply reply = Reply::status(status, object_payload(response, "reply"));
                py::gil_scoped_release release;
                return r.reply(std::move(reply));
            },
            py::arg("status") = "ok", py::arg("response") = py::none(),
            "Send a reply with this status ('ok', 'error', ...) and response dict. Returns "
            "False when it was not delivered (already answered, or the channel is gone).")
        .def(
            "ok",
            [](const Responder& r, py::handle response) {
                Reply reply = Reply::ok(object_payload(response, "reply"));
                py::gil_scoped_release release;
                return r.reply(std::move(reply));
            },
            py::arg("response") = py::none(), "reply('ok', response).")
        .def(
            "error",
            [](const Responder& r, py::handle reason) {
                Json response = py::isinstance<py::str>(reason)
                                    ? Json::object({{"reason", reason.cast<std::string>()}})
                                    : object_payload(reason, "reply");
                Reply reply = Reply::error(std::move(response));
                py::gil_scoped_release release;
                return r.reply(std::move(reply));
            },
            py::arg("reason"), "reply('error', {'reason': reason}) for a str, or the given dict.");
}

}  // namespace quckrt::python
