// Markov-chain analytics (chain.hpp): classes, stationary distributions, first
// passage, expected visits and first returns. Arrays are read-only views.
#include "pybind11.hpp"

#include "memory.hpp"

#include "journeysim/chain.hpp"

#include <string>

using namespace journeysim;

void register_chain(py::module_ &m) {
  py::class_<StageClass>(m, "StageClass")
      .def_readonly("stages", &StageClass::stages)
      .def_readonly("recurrent", &StageClass::recurrent)
      .def_readonly("period", &StageClass::period);
  py::class_<FirstPassage>(m, "FirstPassage")
      .def_readonly("probability", &FirstPassage::probability,
                    py::return_value_policy::reference_internal)
      .def_readonly("missed", &FirstPassage::missed,
                    py::return_value_policy::reference_internal)
      .def_readonly("mean_time", &FirstPassage::mean_time,
                    py::return_value_policy::reference_internal)
      .def_readonly("condition", &FirstPassage::condition)
      .def_readonly("warning", &FirstPassage::warning);
  py::class_<FirstReturn>(m, "FirstReturn")
      .def_readonly("probability", &FirstReturn::probability,
                    py::return_value_policy::reference_internal)
      .def_readonly("missed", &FirstReturn::missed,
                    py::return_value_policy::reference_internal)
      .def_readonly("mean_time", &FirstReturn::mean_time,
                    py::return_value_policy::reference_internal);

  m.def("communicating_classes", &communicating_classes, py::arg("journey"),
        py::arg("segment"), py::call_guard<py::gil_scoped_release>());
  m.def("stationary_distributions", &stationary_distributions, py::arg("journey"),
        py::arg("segment"), py::call_guard<py::gil_scoped_release>());
  m.def("first_passage", &first_passage, py::arg("journey"), py::arg("segment"),
        py::arg("target"), py::arg("avoid"), py::call_guard<py::gil_scoped_release>());
  m.def(
      "expected_visits",
      [](const Journey &journey, std::size_t segment) {
        const auto n = static_cast<double>(journey.n_stages());
        require_memory(4.0 * n * n * 8.0, "the expected visits (fundamental matrix)",
                       "it is stages x stages: use a journey with fewer stages");
        py::gil_scoped_release release;
        return expected_visits(journey, segment);
      },
      py::arg("journey"), py::arg("segment"));
  m.def("first_returns", &first_returns, py::arg("journey"), py::arg("segment"),
        py::call_guard<py::gil_scoped_release>());
}
