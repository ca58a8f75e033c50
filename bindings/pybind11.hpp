// Included first by every binding file: one place for the pybind11 headers and
// the conversions (Eigen, STL) every area relies on.
#pragma once

#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

void register_model(py::module_ &m);
void register_exact(py::module_ &m);
