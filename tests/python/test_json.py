"""Payload conversion between Python objects and quckrt::Json (the C++ payload type)."""

import collections
import math

import pytest

from quckrt import _quckrt

roundtrip = _quckrt._roundtrip_json


def test_json_values_round_trip():
    value = {"s": "héllo ✓ \u0000 \"q\"", "i": -(2 ** 63), "j": 2 ** 63 - 1, "f": 1.5,
             "t": True, "n": None, "l": [1, [2, {"x": []}]], "e": {}}
    assert roundtrip(value) == value
    assert list(roundtrip({"b": 1, "a": 2, "c": 3})) == ["b", "a", "c"]  # order kept


def test_tuples_become_lists_and_dict_subclasses_are_dicts():
    assert roundtrip((1, (2, 3))) == [1, [2, 3]]
    assert roundtrip(collections.OrderedDict(a=1)) == {"a": 1}
    assert type(roundtrip(True)) is bool and type(roundtrip(1)) is int


def test_non_finite_floats_become_null_on_the_wire():
    assert math.isnan(roundtrip(float("nan")))  # kept in memory; dump() writes null


@pytest.mark.parametrize("value, error", [
    ({1: "x"}, TypeError),
    ({"s": {1, 2}}, TypeError),
    (b"bytes", TypeError),
    (object(), TypeError),
    (2 ** 64, OverflowError),
    (-(2 ** 63) - 1, OverflowError),
    ("\ud800", UnicodeEncodeError),
])
def test_unsupported_values_raise(value, error):
    with pytest.raises(error):
        roundtrip(value)


def test_depth_limit():
    deep = []
    for _ in range(70):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper"):
        roundtrip(deep)
