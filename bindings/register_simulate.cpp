#include "pybind11.hpp"

#include "memory.hpp"

#include "journeysim/exact.hpp"
#include "journeysim/simulate.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <utility>

using namespace journeysim;
using namespace pybind11::literals;

namespace {

// A window [from, until) as Python sees it: (from, until or None).
using Ends = std::pair<int, std::optional<int>>;

CapacityRule make_rule(std::optional<std::int64_t> capacity,
                       std::vector<std::optional<int>> rank, Ends window, Ends calendar,
                       std::vector<bool> touched, std::vector<int> fallback, int team,
                       std::optional<std::int64_t> team_capacity) {
  CapacityRule rule;
  rule.team = team;
  rule.team_capacity = team_capacity;
  rule.capacity = capacity;
  rule.rank = std::move(rank);
  rule.window = {window.first, window.second};
  rule.calendar = {calendar.first, calendar.second};
  rule.touched = std::move(touched);
  rule.fallback = std::move(fallback);
  return rule;
}

Ends ends(const Window &w) { return {w.from, w.until}; }

// The shapes of a result's arrays: R replications, T periods, S stages, K
// streams, X capacity rules, N teams of the rules (MS: S with capacity rules,
// else 0), M customers and E events of the first replication.
struct Dims {
  explicit Dims(const SimulationResult &r)
      : R(r.replications), T(r.periods), S(r.stages), K(r.streams),
        X(static_cast<py::ssize_t>(r.capacity_treated.size()) /
          std::max<py::ssize_t>(R * T, 1)),
        N(static_cast<py::ssize_t>(r.team_handled.size()) /
          std::max<py::ssize_t>(R * T, 1)),
        MS(r.capacity_moves.empty() ? 0 : S),
        M(static_cast<py::ssize_t>(r.lifetime.size())),
        E(static_cast<py::ssize_t>(r.event_customer.size())) {}
  py::ssize_t R, T, S, K, X, N, MS, M, E;
};

// A read-only numpy view of a result's vector, whose base is `owner` (the Python
// object holding the result, which the view keeps alive).
template <class T>
py::array_t<T> readonly(const std::vector<T> &v, std::vector<py::ssize_t> shape,
                        py::handle owner) {
  py::array_t<T> a(std::move(shape), v.data(), owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

// `value` repeated n times: a read-only broadcast view of one element.
template <class T> py::object fixed_column(T value, py::ssize_t n) {
  py::array_t<T> one(1);
  one.mutable_at(0) = value;
  return py::module_::import("numpy").attr("broadcast_to")(one, py::make_tuple(n));
}

template <class T> std::vector<T> vector_of(const py::handle &x) {
  const auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!a) throw std::runtime_error("invalid pickled SimulationResult state");
  return std::vector<T>(a.data(), a.data() + a.size());
}

} // namespace

// Each array of a SimulationResult with its shape (in terms of Dims d).
#define JS_SIMULATION_ARRAYS(F)                                                        \
  F(occupancy, d.R, d.T + 1, d.S)                                                      \
  F(cohort_occupancy, d.R, d.T + 1, d.S)                                               \
  F(value_by_period, d.R, d.T, d.K)                                                    \
  F(value_by_period_nominal, d.R, d.T, d.K)                                            \
  F(cohort_value, d.R, d.K)                                                            \
  F(cohort_value_sq, d.R, d.K + 1)                                                     \
  F(cohort_lifetime, d.R)                                                              \
  F(cohort_lifetime_sq, d.R)                                                           \
  F(arrivals, d.R, d.T)                                                                \
  F(capacity_eligible, d.R, d.T, d.X)                                                  \
  F(capacity_treated, d.R, d.T, d.X)                                                   \
  F(capacity_first_treated, d.R, d.T, d.X)                                             \
  F(team_eligible, d.R, d.T, d.N)                                                      \
  F(team_handled, d.R, d.T, d.N)                                                       \
  F(capacity_moves, d.R, d.MS, d.MS)                                                   \
  F(lifetime, d.M)                                                                     \
  F(outcome, d.M)                                                                      \
  F(start_stage, d.M)                                                                  \
  F(first_value, d.M)                                                                  \
  F(segment, d.M)                                                                      \
  F(customer_value, d.M, d.K)                                                          \
  F(event_customer, d.E)                                                               \
  F(event_period, d.E)                                                                 \
  F(event_from, d.E)                                                                   \
  F(event_to, d.E)

void register_simulate(py::module_ &m) {
  py::enum_<Method>(m, "Method")
      .value("individual", Method::Individual)
      .value("aggregate", Method::Aggregate);
  py::enum_<Engine>(m, "Engine")
      .value("sojourn", Engine::Sojourn)
      .value("period", Engine::Period);

  py::class_<SimulationControl>(m, "SimulationControl")
      .def(py::init<>())
      .def("cancel", [](SimulationControl &c) { c.cancel = true; })
      .def_property_readonly(
          "steps_done", [](const SimulationControl &c) { return c.steps_done.load(); });

  py::register_exception<SimulationCancelled>(m, "SimulationCancelled",
                                              PyExc_RuntimeError);

  py::class_<CapacityRule>(m, "CapacityRule")
      .def(py::init(&make_rule), py::kw_only(), py::arg("capacity"), py::arg("rank"),
           py::arg("window") = Ends{0, std::nullopt},
           py::arg("calendar") = Ends{0, std::nullopt}, py::arg("touched"),
           py::arg("fallback"), py::arg("team") = -1,
           py::arg("team_capacity") = std::nullopt)
      .def_readonly("capacity", &CapacityRule::capacity)
      .def_readonly("team", &CapacityRule::team)
      .def_readonly("team_capacity", &CapacityRule::team_capacity)
      .def_readonly("rank", &CapacityRule::rank)
      .def_property_readonly("window",
                             [](const CapacityRule &r) { return ends(r.window); })
      .def_property_readonly("calendar",
                             [](const CapacityRule &r) { return ends(r.calendar); })
      .def_readonly("touched", &CapacityRule::touched)
      .def_readonly("fallback", &CapacityRule::fallback)
      .def("__repr__",
           [](const CapacityRule &r) {
             return "CapacityRule(capacity=" +
                    (r.capacity ? std::to_string(*r.capacity) : std::string("None")) +
                    ", " + std::to_string(r.touched.size()) + " segments)";
           })
      .def(py::pickle(
          [](const CapacityRule &r) {
            return py::dict("capacity"_a = r.capacity, "rank"_a = r.rank,
                            "window"_a = ends(r.window),
                            "calendar"_a = ends(r.calendar), "touched"_a = r.touched,
                            "fallback"_a = r.fallback, "team"_a = r.team,
                            "team_capacity"_a = r.team_capacity);
          },
          [](const py::dict &s) {
            return make_rule(s["capacity"].cast<std::optional<std::int64_t>>(),
                             s["rank"].cast<std::vector<std::optional<int>>>(),
                             s["window"].cast<Ends>(), s["calendar"].cast<Ends>(),
                             s["touched"].cast<std::vector<bool>>(),
                             s["fallback"].cast<std::vector<int>>(),
                             s["team"].cast<int>(),
                             s["team_capacity"].cast<std::optional<std::int64_t>>());
          }));

  // Arrays are read-only views into the result, which they keep alive.
  py::class_<SimulationResult> result(m, "SimulationResult");
  result.def_readonly("replications", &SimulationResult::replications)
      .def_readonly("periods", &SimulationResult::periods)
      .def_readonly("stages", &SimulationResult::stages)
      .def_readonly("streams", &SimulationResult::streams);
#define JS_VIEW(name, ...)                                                             \
  result.def_property_readonly(#name, [](const py::object &self) {                     \
    const auto &r = self.cast<const SimulationResult &>();                             \
    const Dims d(r);                                                                   \
    return readonly(r.name, {__VA_ARGS__}, self);                                      \
  });
  JS_SIMULATION_ARRAYS(JS_VIEW)
#undef JS_VIEW
  // A column the journey fixes for everyone (FixedColumns) is not stored: a
  // read-only numpy view of its one value repeated M times (no memory per
  // customer), else the stored column.
#define JS_FIXED_VIEW(name)                                                            \
  result.def_property_readonly(#name, [](const py::object &self) -> py::object {       \
    const auto &r = self.cast<const SimulationResult &>();                             \
    const Dims d(r);                                                                   \
    if (r.name.empty() && d.M > 0 && r.fixed.name)                                     \
      return fixed_column(*r.fixed.name, d.M);                                         \
    return readonly(r.name, {d.M}, self);                                              \
  });
  JS_FIXED_VIEW(start_stage)
  JS_FIXED_VIEW(first_value)
  JS_FIXED_VIEW(segment)
#undef JS_FIXED_VIEW
  py::list names; // the arrays' names, for code that goes through them all
#define JS_NAME(name, ...) names.append(#name);
  JS_SIMULATION_ARRAYS(JS_NAME)
#undef JS_NAME
  result.attr("arrays") = py::tuple(names);
  result.def(py::pickle(
      [](const py::object &self) {
        const auto &r = self.cast<const SimulationResult &>();
        py::dict state("replications"_a = r.replications, "periods"_a = r.periods,
                       "stages"_a = r.stages, "streams"_a = r.streams);
#define JS_STATE(name, ...) state[#name] = self.attr(#name);
        JS_SIMULATION_ARRAYS(JS_STATE)
#undef JS_STATE
        return state;
      },
      [](const py::dict &state) {
        SimulationResult r;
        r.replications = state["replications"].cast<int>();
        r.periods = state["periods"].cast<int>();
        r.stages = state["stages"].cast<int>();
        r.streams = state["streams"].cast<int>();
#define JS_RESTORE(name, ...)                                                          \
  r.name = vector_of<decltype(r.name)::value_type>(state[#name]);
        JS_SIMULATION_ARRAYS(JS_RESTORE)
#undef JS_RESTORE
        return r;
      }));

  m.def(
      "simulate",
      [](const Journey &journey, std::int64_t customers, int periods,
         std::uint64_t seed, int replications, int threads, Accrual accrual,
         Method method, bool per_customer, bool record_events,
         SimulationControl *control, const std::vector<CapacityRule> &capacity,
         Engine engine) {
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
        o.engine = engine;
        SimulationResult r;
        {
          py::gil_scoped_release release;
          r = simulate(journey, o, control, capacity);
        }
        return r; // moved into the Python object: its arrays are not copied
      },
      py::arg("journey"), py::arg("customers"), py::arg("periods"), py::arg("seed"),
      py::arg("replications"), py::arg("threads"), py::arg("accrual"),
      py::arg("method"), py::arg("per_customer"), py::arg("record_events"),
      py::arg("control") = nullptr, py::arg("capacity") = std::vector<CapacityRule>{},
      py::arg("engine") = Engine::Sojourn);

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
