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
void register_chain(py::module_ &m);
void register_simulate(py::module_ &m);
void register_fit(py::module_ &m);

// Hands a vector's buffer to numpy without copying; the array owns it.
template <class T>
py::array_t<T> to_numpy(std::vector<T> &&v, std::vector<py::ssize_t> shape) {
  auto *heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void *p) { delete static_cast<std::vector<T> *>(p); });
  return py::array_t<T>(std::move(shape), heap->data(), owner);
}
