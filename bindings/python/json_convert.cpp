#include "json_convert.hpp"

#include <string>

namespace py = pybind11;

namespace quckrt::python {
namespace {

constexpr int kMaxDepth = 64;

[[noreturn]] void raise(PyObject* type, const std::string& message) {
    PyErr_SetString(type, message.c_str());
    throw py::error_already_set();
}

std::string type_name(py::handle obj) { return Py_TYPE(obj.ptr())->tp_name; }

std::string utf8(py::handle str) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(str.ptr(), &size);
    if (!data) throw py::error_already_set();  // e.g. lone surrogates
    return std::string(data, static_cast<size_t>(size));
}

Json convert(py::handle obj, int depth) {
    if (depth > kMaxDepth) raise(PyExc_ValueError, "payload nested deeper than 64 levels");
    PyObject* o = obj.ptr();
    if (o == Py_None) return Json();
    if (PyBool_Check(o)) return Json(o == Py_True);
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow != 0)
            raise(PyExc_OverflowError, "payload integer does not fit in 64 signed bits");
        if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
        return Json(static_cast<int64_t>(v));
    }
    if (PyFloat_Check(o)) return Json(PyFloat_AS_DOUBLE(o));
    if (PyUnicode_Check(o)) return Json(utf8(obj));
    if (PyDict_Check(o)) {
        Json::Object members;
        members.reserve(static_cast<size_t>(PyDict_Size(o)));
        PyObject* key = nullptr;
        PyObject* value = nullptr;
        Py_ssize_t pos = 0;
        while (PyDict_Next(o, &pos, &key, &value)) {
            if (!PyUnicode_Check(key))
                raise(PyExc_TypeError,
                      "payload dict keys must be str, got " + type_name(py::handle(key)));
            members.emplace_back(utf8(py::handle(key)), convert(py::handle(value), depth + 1));
        }
        return Json(std::move(members));
    }
    if (PyList_Check(o) || PyTuple_Check(o)) {
        py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
        Json::Array items;
        items.reserve(seq.size());
        for (py::handle item : seq) items.push_back(convert(item, depth + 1));
        return Json(std::move(items));
    }
    raise(PyExc_TypeError, "payload value of type " + type_name(obj) +
                               " is not JSON-serializable (use dict, list, str, int, float, "
                               "bool or None)");
}

}  // namespace

Json to_json(py::handle obj) { return convert(obj, 0); }

py::object from_json(const Json& value) {
    switch (value.type()) {
        case Json::Type::null:
            return py::none();
        case Json::Type::boolean:
            return py::bool_(value.as_bool());
        case Json::Type::integer:
            return py::int_(value.as_int());
        case Json::Type::number:
            return py::float_(value.as_double());
        case Json::Type::string: {
            const std::string& s = value.as_string();
            PyObject* str =
                PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
            if (!str) throw py::error_already_set();
            return py::reinterpret_steal<py::object>(str);
        }
        case Json::Type::array: {
            const Json::Array& items = value.as_array();
            py::list out(items.size());
            for (size_t i = 0; i < items.size(); ++i) out[i] = from_json(items[i]);
            return out;
        }
        case Json::Type::object: {
            py::dict out;
            for (const auto& [k, v] : value.as_object()) {
                PyObject* key =
                    PyUnicode_DecodeUTF8(k.data(), static_cast<Py_ssize_t>(k.size()), "replace");
                if (!key) throw py::error_already_set();
                out[py::reinterpret_steal<py::object>(key)] = from_json(v);
            }
            return out;
        }
    }
    return py::none();
}

}  // namespace quckrt::python
