#include "journeysim/simulate.hpp"

#include "engine.hpp"
#include "journeysim/exact.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace journeysim {
namespace {

using namespace detail;

void check_options(const Journey &j, const SimulationOptions &o) {
  if (static_cast<double>(o.customers) > kMaxCustomers)
    throw std::invalid_argument("customers must be at most 2^62, got " +
                                std::to_string(o.customers));
  if (o.customers <= 0)
    throw std::invalid_argument("customers must be > 0, got " +
                                std::to_string(o.customers));
  if (o.periods <= 0)
    throw std::invalid_argument("periods must be > 0, got " +
                                std::to_string(o.periods));
  if (o.replications <= 0)
    throw std::invalid_argument("replications must be > 0, got " +
                                std::to_string(o.replications));
  if (o.threads < 0)
    throw std::invalid_argument("threads must be >= 1, got " +
                                std::to_string(o.threads));
  if (j.segments().size() > 255)
    throw std::invalid_argument("simulation supports at most 255 segments");
  if (j.n_streams() > 64)
    throw std::invalid_argument("simulation supports at most 64 value streams");
  if (j.n_stages() > 32767)
    throw std::invalid_argument("simulation supports at most 32767 stages");
  check_discounting(j, o.periods);
}

void check_capacity(const Journey &j, const SimulationOptions &o,
                    const std::vector<CapacityRule> &rules) {
  if (rules.empty()) return;
  if (o.method != Method::Individual)
    throw std::invalid_argument("capacity needs method='individual'");
  if (rules.size() > 64) throw std::invalid_argument("at most 64 capacity limits");
  const auto G = j.segments().size();
  for (const auto &r : rules) {
    if (r.capacity && *r.capacity < 0)
      throw std::invalid_argument("capacity must be >= 0");
    if (r.rank.size() != j.n_stages() || r.touched.size() != G ||
        r.fallback.size() != G)
      throw std::invalid_argument("capacity rule sizes do not match the journey");
    for (int f : r.fallback)
      if (f < 0 || static_cast<std::size_t>(f) >= G)
        throw std::invalid_argument("capacity fallback segment out of range");
    for (const Window *w : {&r.window, &r.calendar})
      if (w->from < 0 || (w->until && *w->until < w->from))
        throw std::invalid_argument(
            "a capacity rule's window needs 0 <= from <= until, got [" +
            std::to_string(w->from) + ", " +
            (w->until ? std::to_string(*w->until) : std::string("open")) + ")");
  }
}

// Whole customers joining at t = 1..T: the journey's (possibly fractional)
// expected arrivals, rounded up with probability equal to the fraction.
std::vector<std::int64_t> draw_joins(const Journey &j, const SimulationOptions &o,
                                     int rep) {
  std::vector<std::int64_t> joins(static_cast<std::size_t>(o.periods) + 1, 0);
  joins[0] = o.customers;
  Rng rng(stream_seed(o.seed, static_cast<std::uint64_t>(rep), ~0ULL));
  double total = static_cast<double>(o.customers);
  for (int t = 1; t <= o.periods; ++t) {
    const double a = j.arrivals_at(t);
    const double whole = std::floor(a);
    // Beyond 2^53 a double no longer holds every integer: the count would be
    // silently rounded.
    if (whole > 9e15)
      throw std::invalid_argument(
          "arrivals of " + std::to_string(a) + " at period " + std::to_string(t) +
          " are too large to simulate (at most 9e15 per period)");
    const double u = uniform(rng);
    joins[static_cast<std::size_t>(t)] =
        static_cast<std::int64_t>(whole) + (u < a - whole ? 1 : 0);
    total += whole + 1.0;
  }
  if (total > kMaxCustomers)
    throw std::invalid_argument(
        "the starting cohort and the arrivals over " + std::to_string(o.periods) +
        " periods exceed 2^62 customers: counts are 64-bit integers");
  return joins;
}

// With finite inputs a non-finite value can only be an overflow.
void check_values(const SimulationResult &r) {
  auto finite = [](const std::vector<double> &v) {
    for (double x : v)
      if (!std::isfinite(x)) return false;
    return true;
  };
  if (!finite(r.value_by_period) || !finite(r.value_by_period_nominal) ||
      !finite(r.cohort_value) || !finite(r.customer_value))
    throw std::invalid_argument(
        "the simulated values overflow double precision (about 1.8e308): values, "
        "customers or arrivals are too large (rescale the values, e.g. to "
        "thousands) or a discount rate is too close to -1");
}

} // namespace

double expected_moves(const Journey &journey, int periods) {
  double moves = 0.0;
  const Analysis a = analyze(journey, periods, Accrual::Start);
  // Expected moves in period k: sum_i x_{k-1,i} (1 - P_ii(k-1)), mixed over segments.
  for (std::size_t g = 0; g < journey.segments().size(); ++g) {
    const auto &seg = journey.segments()[g];
    const Matrix &occ =
        journey.segments().size() > 1 ? a.segments[g].occupancy : a.occupancy;
    for (int k = 1; k <= periods; ++k) {
      const Matrix &P = seg.transitions.at(k - 1);
      for (Index i = 0; i < P.rows(); ++i)
        moves += seg.share * occ(k - 1, i) * (1.0 - P(i, i));
    }
  }
  return moves;
}

SimulationResult simulate(const Journey &journey, const SimulationOptions &o,
                          SimulationControl *control,
                          const std::vector<CapacityRule> &capacity) {
  check_options(journey, o);
  check_capacity(journey, o, capacity);
  const int T = o.periods, R = o.replications;
  const auto S = static_cast<std::size_t>(journey.n_stages());
  const auto K = static_cast<std::size_t>(journey.n_streams());
  SimulationResult out;
  out.replications = R;
  out.periods = T;
  out.stages = static_cast<int>(S);
  out.streams = static_cast<int>(K);
  const auto r = static_cast<std::size_t>(R), t1 = static_cast<std::size_t>(T) + 1;
  // The per-period tables can be large (many periods and replications): filled
  // with cancellation checks, like the per-customer arrays.
  assign_cancellable(out.occupancy, r * t1 * S, std::int64_t{0}, control);
  assign_cancellable(out.cohort_occupancy, r * t1 * S, std::int64_t{0}, control);
  assign_cancellable(out.value_by_period, r * (t1 - 1) * K, 0.0, control);
  assign_cancellable(out.value_by_period_nominal, r * (t1 - 1) * K, 0.0, control);
  out.cohort_value.assign(r * K, 0.0);
  out.cohort_value_sq.assign(r * (K + 1), 0.0);
  out.cohort_lifetime.assign(r, 0.0);
  out.cohort_lifetime_sq.assign(r, 0.0);
  out.arrivals.assign(r * (t1 - 1), 0);
  const std::size_t X = capacity.size();
  out.capacity_eligible.assign(r * (t1 - 1) * X, 0);
  out.capacity_treated.assign(r * (t1 - 1) * X, 0);
  out.capacity_first_treated.assign(r * (t1 - 1) * X, 0);
  int threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);

  std::vector<std::vector<std::int64_t>> joins;
  for (int rep = 0; rep < R; ++rep) {
    joins.push_back(draw_joins(journey, o, rep));
    for (int t = 1; t <= T; ++t)
      out.arrivals[static_cast<std::size_t>(rep) * (t1 - 1) +
                   static_cast<std::size_t>(t - 1)] =
          joins.back()[static_cast<std::size_t>(t)];
  }

  if (o.method == Method::Aggregate) {
    // Replications are independent streams: spread them over threads.
    std::atomic<int> next{0};
    auto work = [&]() {
      for (int rep; (rep = next.fetch_add(1)) < R;) {
        if (cancelled(control)) return;
        try {
          run_aggregate(journey, o, rep, control, out);
        } catch (const SimulationCancelled &) {
          return; // rethrown below, once every thread has stopped
        }
        if (control) control->steps_done.fetch_add(static_cast<std::int64_t>(T));
      }
    };
    const int n = std::min(threads, R);
    if (n <= 1) {
      work();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < n; ++t) pool.emplace_back(work);
      for (auto &th : pool) th.join();
    }
    if (cancelled(control)) throw SimulationCancelled();
    check_values(out);
    return out;
  }

  if (!capacity.empty()) {
    run_capacity(journey, o, capacity, control, joins, out, threads);
    check_values(out);
    return out;
  }
  run_individual(journey, o, control, joins, out, threads);
  check_values(out);
  return out;
}

FixedColumns fixed_columns(const Journey &journey) {
  FixedColumns f;
  const auto &segs = journey.segments();
  bool at_zero = true; // every segment starts everyone in stage 0
  for (const auto &seg : segs)
    for (Index s = 1; s < seg.start.size(); ++s)
      at_zero = at_zero && !(seg.start(s) > 0.0);
  if (at_zero) f.start_stage = std::int16_t{0};
  if (journey.value_stages().empty()) f.first_value = -1;
  if (segs.size() == 1) f.segment = std::uint8_t{0};
  return f;
}

std::vector<std::pair<std::string, double>>
simulation_memory(const Journey &journey, const SimulationOptions &o,
                  std::size_t capacity_rules) {
  const double T = o.periods, R = o.replications;
  const auto S = static_cast<double>(journey.n_stages());
  const auto K = static_cast<double>(journey.n_streams());
  const auto X = static_cast<double>(capacity_rules);
  double M = static_cast<double>(o.customers); // customers of one replication
  for (int t = 1; t <= o.periods; ++t) M += std::ceil(journey.arrivals_at(t));
  std::vector<std::pair<std::string, double>> need;
  // Occupancy (twice), value by period (twice), arrivals and capacity counts per
  // replication; the Python side adds means over replications.
  need.emplace_back("per-period tables",
                    R * ((T + 1) * S * 8 * 2 + T * K * 8 * 2 + T * 8 + 3 * T * X * 8) +
                        (T + 1) * S * 8 * 2 + T * (K + 1) * 8 * 4);
  if (o.method == Method::Individual && o.per_customer) {
    // lifetime, outcome, start stage, first value, segment, values; the fixed
    // columns are not stored by the customer-by-customer engines.
    const FixedColumns f = capacity_rules > 0 ? FixedColumns{} : fixed_columns(journey);
    need.emplace_back("per-customer arrays",
                      M * (4 + 2 + (f.start_stage ? 0 : 2) + (f.first_value ? 0 : 4) +
                           (f.segment ? 0 : 1) + 8 * K));
  }
  if (o.method == Method::Individual) {
    if (capacity_rules > 0) {
      // Everyone's state, period by period (capacity.cpp): stage, segment,
      // lifetime, values, rule and team bits, periods waited at each rule, and
      // at most every customer waiting at every rule (twice: queues, order).
      need.emplace_back(
          "the capacity engine's customers",
          M * (1 + 2 + 1 + 4 + 4 + 2 + 8 * K + 3 * 8 + 4 * X + 16 * X + 16));
    } else {
      int threads = o.threads > 0
                        ? o.threads
                        : static_cast<int>(std::thread::hardware_concurrency());
      threads = std::max(threads, 1);
      std::size_t E = 1;
      for (const auto &seg : journey.segments()) {
        std::set<int> starts{0};
        for (const auto &vs : seg.streams)
          starts.insert(vs.stage_values.starts.begin(), vs.stage_values.starts.end());
        E = std::max(E, starts.size());
      }
      const auto G = static_cast<double>(journey.segments().size());
      // Per thread: start and end counts by calendar time, segment, value piece
      // and stage, and the cohort's; per block of a wave, sums by period.
      need.emplace_back(
          "the engine's counters",
          threads *
                  ((T + 2) * G * static_cast<double>(E) * S * 8 * 2 + (T + 2) * S * 8) +
              static_cast<double>(wave_blocks(threads)) * (2 * T * K * 8 + 64 * 8));
    }
  }
  return need;
}

} // namespace journeysim
