#include "pybind11.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "journeysim's compiled core. Private: use the journeysim package.";
  register_model(m);
  register_exact(m);
  register_chain(m);
  register_simulate(m);
  register_fit(m);
}
