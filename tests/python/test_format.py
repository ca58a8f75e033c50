"""The number formatter of the HTML displays, ``fmt``: every branch of its
rules, each case with the exact text it must give, derived by hand.

The rules: None and False give "" and True "yes" (numpy's booleans too); an
int (numpy's too) gets thousands separators; a float is "–" if NaN, "∞" or "−∞"
if infinite, "0" if zero (also -0.0), written with a power of ten in
superscript ("1.235×10³⁰⁰") from 1e15 up, rounded to a whole number with
separators from 100 up, "≈0" below 1e-6, and otherwise given to 4 significant
figures (trailing zeros dropped); never scientific notation; anything else is
``str()`` of it (issue 14: no "e+" anywhere a person reads)."""

from __future__ import annotations

import numpy as np
import pytest

from journeysim.view.display import fmt

CASES = [
    # None and booleans (bool is an int: its branch comes first)
    (None, ""),
    (True, "yes"),
    (False, ""),
    # ints: separators, never rounded or in scientific notation
    (0, "0"),
    (7, "7"),
    (999, "999"),
    (1000, "1,000"),
    (1234567, "1,234,567"),
    (-1234567, "-1,234,567"),
    (10**12, "1,000,000,000,000"),
    # floats that are not numbers
    (float("nan"), "–"),  # an en dash
    (float("inf"), "∞"),
    (float("-inf"), "−∞"),  # a minus sign, not a hyphen
    # 1e7 <= |x| < 1e15: written out, separators
    (1e7, "10,000,000"),
    (12345678.9, "12,345,679"),
    (-2.5e8, "-250,000,000"),
    (1e9, "1,000,000,000"),
    # |x| >= 1e15: a power of ten in superscript, not "e+"
    (1e300, "1×10³⁰⁰"),
    (-2.5e16, "-2.5×10¹⁶"),
    # 1e-6 <= |x| < 1e-3: 4 significant figures, written out
    (0.000999, "0.000999"),
    (-5e-4, "-0.0005"),
    # |x| < 1e-6: nothing a person would read as a number
    (1e-10, "≈0"),
    (5e-324, "≈0"),  # the smallest subnormal
    # 100 <= |x| < 1e15: a whole number with separators
    (100.0, "100"),
    (1234.56, "1,235"),
    (-1234.56, "-1,235"),
    (9999999.4, "9,999,999"),
    # 1e-3 <= |x| < 100: 4 significant figures, trailing zeros dropped
    (0.001, "0.001"),
    (0.0012346, "0.001235"),
    (0.5, "0.5"),
    (1.0, "1"),
    (3.14159, "3.142"),
    (42.0, "42"),
    (99.99, "99.99"),
    (-0.25, "-0.25"),
    # zero is not "small": no scientific notation
    (0.0, "0"),
    # anything else: str()
    ("", ""),
    ("churned", "churned"),
    ("1234567", "1234567"),  # a string is not formatted as a number
    # numpy floats are floats: the float rules apply
    (np.float64(1234.56), "1,235"),
    (np.float64(1e-4), "0.0001"),
    (np.float64("nan"), "–"),
]


@pytest.mark.parametrize(("x", "expected"), CASES, ids=lambda v: repr(v))
def test_fmt(x, expected):
    assert fmt(x) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (np.int64(1234567), "1,234,567"),
        (np.int32(-1000), "-1,000"),
        (np.bool_(True), "yes"),
        (np.float32(1234.75), "1,235"),
        (-0.0, "0"),
    ],
    ids=repr,
)
def test_fmt_of_numpy_integers_booleans_float32_and_negative_zero(x, expected):
    assert fmt(x) == expected
