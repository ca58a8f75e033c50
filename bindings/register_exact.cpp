#include "pybind11.hpp"

#include "memory.hpp"

#include "journeysim/exact.hpp"

#include <algorithm>
#include <optional>
#include <string>

using namespace journeysim;

namespace {

// Fails up front when the per-period tables of an analysis cannot fit.
void check_analysis_memory(const Journey &journey, int periods) {
  if (periods < 0) return; // the core says what is wrong
  require_memory(analysis_memory(journey, periods),
                 "an exact analysis over " + std::to_string(periods) + " periods",
                 "use fewer periods (the whole-lifetime results, such as "
                 "expected_lifetime and lifetime_clv, do not depend on them)");
}

} // namespace

void register_exact(py::module_ &m) {
  py::class_<Analysis> a(m, "Analysis");
  // Arrays are returned as read-only views into the result, which they keep alive.
#define JS_FIELD(name)                                                                 \
  a.def_readonly(#name, &Analysis::name, py::return_value_policy::reference_internal)
  JS_FIELD(periods);
  JS_FIELD(occupancy);
  JS_FIELD(population);
  JS_FIELD(retention);
  JS_FIELD(absorbed);
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
  JS_FIELD(absorption_by_stage);
  JS_FIELD(value_reached);
  JS_FIELD(ttv_reached);
  JS_FIELD(ttv_mean);
  JS_FIELD(ttv_never);
  JS_FIELD(stage_lifetime);
  JS_FIELD(stage_lifetime_horizon);
  JS_FIELD(stage_value);
  JS_FIELD(stage_value_infinite);
  JS_FIELD(warnings);
  JS_FIELD(condition);
  JS_FIELD(condition_warnings);
  JS_FIELD(segments);
#undef JS_FIELD

  py::enum_<Sensitivity>(m, "Sensitivity")
      .value("value", Sensitivity::Value)
      .value("lifetime", Sensitivity::Lifetime)
      .value("retention", Sensitivity::Retention);
  m.def(
      "sensitivities",
      [](const Journey &journey, std::optional<int> periods, Accrual accrual,
         Sensitivity metric, const std::vector<int> &dest) {
        // Value to go and weights per period, stages x (steps + 1) each; the
        // whole lifetime steps through the tenure pieces.
        const int stepped = std::max(periods.value_or(0), journey.stationary_from());
        const double steps = stepped + 1.0;
        const auto n = static_cast<double>(journey.n_stages());
        require_memory(3.0 * steps * n * 8.0 + 4.0 * n * n * 8.0,
                       "sensitivities over " + std::to_string(stepped) + " periods",
                       "use a shorter horizon, or None for the whole lifetime");
        py::gil_scoped_release release;
        return sensitivities(journey, periods, accrual, metric, dest);
      },
      py::arg("journey"), py::arg("periods"), py::arg("accrual"), py::arg("metric"),
      py::arg("dest"));

  m.def("first_visits", &first_visits, py::arg("journey"), py::arg("segment"),
        py::arg("stages"), py::arg("start"), py::arg("until"),
        py::call_guard<py::gil_scoped_release>());

  m.def("first_visits_any", &first_visits_any, py::arg("journey"), py::arg("segment"),
        py::arg("stages"), py::arg("start"), py::arg("until"), py::arg("horizon"),
        py::call_guard<py::gil_scoped_release>());

  m.def(
      "analyze",
      [](const Journey &journey, int periods, Accrual accrual) {
        check_analysis_memory(journey, periods);
        Analysis r;
        {
          py::gil_scoped_release release;
          r = analyze(journey, periods, accrual);
        }
        return r;
      },
      py::arg("journey"), py::arg("periods"), py::arg("accrual"));

  m.def(
      "analysis_memory",
      [](const Journey &journey, int periods) {
        return analysis_memory(journey, periods);
      },
      py::arg("journey"), py::arg("periods"));
  m.def("available_memory", &available_memory);
}
