// Payload conversion between Python objects and quckrt::Json.
//
// Python -> Json: None, bool, int (64-bit signed range), float, str, dict with str keys
// (insertion order kept), list and tuple. Anything else raises TypeError; an int outside the
// 64-bit range raises OverflowError; nesting deeper than 64 raises ValueError.
// Json -> Python: the inverse (objects become dicts, arrays become lists).
//
// Thread affinity: both need the GIL. Errors are raised as pybind11::error_already_set
// carrying the Python exception, so callers can hand them back to Python code unchanged.
#pragma once

#include <pybind11/pybind11.h>

#include <quckrt/json.hpp>

namespace quckrt::python {

quckrt::Json to_json(pybind11::handle obj);
pybind11::object from_json(const quckrt::Json& value);

}  // namespace quckrt::python
