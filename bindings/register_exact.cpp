#include "pybind11.hpp"

#include "journeysim/exact.hpp"

using namespace journeysim;

void register_exact(py::module_ &m) {
  py::class_<Analysis> a(m, "Analysis");
  // Arrays are returned as read-only views into the result, which they keep alive.
#define JS_FIELD(name)                                                                 \
  a.def_readonly(#name, &Analysis::name, py::return_value_policy::reference_internal)
  JS_FIELD(periods);
  JS_FIELD(occupancy);
  JS_FIELD(population);
  JS_FIELD(retention);
  JS_FIELD(entries);
  JS_FIELD(population_entries);
  JS_FIELD(flows);
  JS_FIELD(value_by_period);
  JS_FIELD(value_by_period_nominal);
  JS_FIELD(population_value_by_period);
  JS_FIELD(population_value_by_period_nominal);
  JS_FIELD(value);
  JS_FIELD(value_infinite);
  JS_FIELD(population_value);
  JS_FIELD(lifetime_horizon);
  JS_FIELD(lifetime);
  JS_FIELD(absorption);
  JS_FIELD(value_reached);
  JS_FIELD(ttv_reached);
  JS_FIELD(ttv_mean);
  JS_FIELD(stage_lifetime);
  JS_FIELD(stage_lifetime_horizon);
  JS_FIELD(stage_value);
  JS_FIELD(stage_value_infinite);
  JS_FIELD(warnings);
  JS_FIELD(segments);
#undef JS_FIELD

  py::enum_<Sensitivity>(m, "Sensitivity")
      .value("value", Sensitivity::Value)
      .value("lifetime", Sensitivity::Lifetime)
      .value("retention", Sensitivity::Retention);
  m.def("sensitivities", &sensitivities, py::arg("journey"), py::arg("periods"),
        py::arg("accrual"), py::arg("metric"), py::arg("dest"),
        py::call_guard<py::gil_scoped_release>());

  m.def("first_visits", &first_visits, py::arg("journey"), py::arg("segment"),
        py::arg("stages"), py::arg("start"), py::arg("until"),
        py::call_guard<py::gil_scoped_release>());

  m.def(
      "analyze",
      [](const Journey &journey, int periods, Accrual accrual) {
        return analyze(journey, periods, accrual);
      },
      py::arg("journey"), py::arg("periods"), py::arg("accrual"),
      py::call_guard<py::gil_scoped_release>());
}
