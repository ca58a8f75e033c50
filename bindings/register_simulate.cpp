#include "pybind11.hpp"

#include "memory.hpp"

#include "journeysim/exact.hpp"
#include "journeysim/simulate.hpp"

#include <algorithm>
#include <tuple>

using namespace journeysim;

namespace {

// (capacity, rank per stage, from, until, calendar from, calendar until,
//  touched per segment, fallback per segment)
using CapacityTuple = std::tuple<std::int64_t, std::vector<int>, int, int, int, int,
                                 std::vector<bool>, std::vector<int>>;

py::dict to_dict(SimulationResult &&r) {
  const auto R = static_cast<py::ssize_t>(r.replications);
  const auto T = static_cast<py::ssize_t>(r.periods);
  const auto S = static_cast<py::ssize_t>(r.stages);
  const auto K = static_cast<py::ssize_t>(r.streams);
  const auto M = static_cast<py::ssize_t>(r.lifetime.size());
  const auto E = static_cast<py::ssize_t>(r.event_customer.size());
  py::dict d;
  d["occupancy"] = to_numpy(std::move(r.occupancy), {R, T + 1, S});
  d["cohort_occupancy"] = to_numpy(std::move(r.cohort_occupancy), {R, T + 1, S});
  d["value_by_period"] = to_numpy(std::move(r.value_by_period), {R, T, K});
  d["value_by_period_nominal"] =
      to_numpy(std::move(r.value_by_period_nominal), {R, T, K});
  d["cohort_value"] = to_numpy(std::move(r.cohort_value), {R, K});
  d["cohort_value_sq"] = to_numpy(std::move(r.cohort_value_sq), {R, K + 1});
  d["cohort_lifetime"] = to_numpy(std::move(r.cohort_lifetime), {R});
  d["cohort_lifetime_sq"] = to_numpy(std::move(r.cohort_lifetime_sq), {R});
  d["arrivals"] = to_numpy(std::move(r.arrivals), {R, T});
  const auto X = static_cast<py::ssize_t>(r.capacity_treated.size()) /
                 std::max<py::ssize_t>(R * T, 1);
  d["capacity_eligible"] = to_numpy(std::move(r.capacity_eligible), {R, T, X});
  d["capacity_treated"] = to_numpy(std::move(r.capacity_treated), {R, T, X});
  d["capacity_first_treated"] =
      to_numpy(std::move(r.capacity_first_treated), {R, T, X});
  d["lifetime"] = to_numpy(std::move(r.lifetime), {M});
  d["outcome"] = to_numpy(std::move(r.outcome), {M});
  d["start_stage"] = to_numpy(std::move(r.start_stage), {M});
  d["first_value"] = to_numpy(std::move(r.first_value), {M});
  d["segment"] = to_numpy(std::move(r.segment), {M});
  d["customer_value"] = to_numpy(std::move(r.customer_value), {M, K});
  d["event_customer"] = to_numpy(std::move(r.event_customer), {E});
  d["event_period"] = to_numpy(std::move(r.event_period), {E});
  d["event_from"] = to_numpy(std::move(r.event_from), {E});
  d["event_to"] = to_numpy(std::move(r.event_to), {E});
  return d;
}

} // namespace

void register_simulate(py::module_ &m) {
  py::enum_<Method>(m, "Method")
      .value("individual", Method::Individual)
      .value("aggregate", Method::Aggregate);

  py::class_<SimulationControl>(m, "SimulationControl")
      .def(py::init<>())
      .def("cancel", [](SimulationControl &c) { c.cancel = true; })
      .def_property_readonly(
          "steps_done", [](const SimulationControl &c) { return c.steps_done.load(); });

  py::register_exception<SimulationCancelled>(m, "SimulationCancelled",
                                              PyExc_RuntimeError);

  m.def(
      "simulate",
      [](const Journey &journey, std::int64_t customers, int periods,
         std::uint64_t seed, int replications, int threads, Accrual accrual,
         Method method, bool per_customer, bool record_events,
         SimulationControl *control, const std::vector<CapacityTuple> &capacity) {
        SimulationOptions o;
        o.customers = customers;
        o.periods = periods;
        o.seed = seed;
        o.replications = replications;
        o.threads = threads;
        o.accrual = accrual;
        o.method = method;
        o.per_customer = per_customer;
        o.record_events = record_events;
        std::vector<CapacityRule> rules;
        for (const auto &[cap, rank, from, until, cal_from, cal_until, touched,
                          fallback] : capacity) {
          CapacityRule rule;
          rule.capacity = cap;
          rule.rank = rank;
          rule.from = from;
          rule.until = until;
          rule.calendar_from = cal_from;
          rule.calendar_until = cal_until;
          rule.touched = touched;
          rule.fallback = fallback;
          rules.push_back(std::move(rule));
        }
        SimulationResult r;
        {
          py::gil_scoped_release release;
          r = simulate(journey, o, control, rules);
        }
        return to_dict(std::move(r));
      },
      py::arg("journey"), py::arg("customers"), py::arg("periods"), py::arg("seed"),
      py::arg("replications"), py::arg("threads"), py::arg("accrual"),
      py::arg("method"), py::arg("per_customer"), py::arg("record_events"),
      py::arg("control") = nullptr, py::arg("capacity") = std::vector<CapacityTuple>{});

  m.def(
      "expected_moves",
      [](const Journey &journey, int periods) {
        require_memory(analysis_memory(journey, periods),
                       "sizing an event log over " + std::to_string(periods) +
                           " periods",
                       "use fewer periods");
        py::gil_scoped_release release;
        return expected_moves(journey, periods);
      },
      py::arg("journey"), py::arg("periods"));

  m.def(
      "simulation_memory",
      [](const Journey &journey, std::int64_t customers, int periods, int replications,
         int threads, Method method, bool per_customer, std::size_t capacity_rules) {
        SimulationOptions o;
        o.customers = customers;
        o.periods = periods;
        o.replications = replications;
        o.threads = threads;
        o.method = method;
        o.per_customer = per_customer;
        return simulation_memory(journey, o, capacity_rules);
      },
      py::arg("journey"), py::arg("customers"), py::arg("periods"),
      py::arg("replications"), py::arg("threads"), py::arg("method"),
      py::arg("per_customer"), py::arg("capacity_rules"));
}
