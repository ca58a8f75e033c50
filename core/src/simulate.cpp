#include "journeysim/simulate.hpp"

#include "engine.hpp"
#include "journeysim/exact.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

namespace journeysim {
namespace {

using namespace detail;

void check_options(const Journey &j, const SimulationOptions &o) {
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
}

void check_capacity(const Journey &j, const SimulationOptions &o,
                    const std::vector<CapacityRule> &rules) {
  if (rules.empty()) return;
  if (o.method != Method::Individual)
    throw std::invalid_argument("capacity needs method='individual'");
  if (rules.size() > 64) throw std::invalid_argument("at most 64 capacity limits");
  const auto G = j.segments().size();
  for (const auto &r : rules) {
    if (r.capacity < 0) throw std::invalid_argument("capacity must be >= 0");
    if (r.rank.size() != j.n_stages() || r.touched.size() != G ||
        r.fallback.size() != G)
      throw std::invalid_argument("capacity rule sizes do not match the journey");
    for (int f : r.fallback)
      if (f < 0 || static_cast<std::size_t>(f) >= G)
        throw std::invalid_argument("capacity fallback segment out of range");
  }
}

// Whole customers joining at t = 1..T: the journey's (possibly fractional)
// expected arrivals, rounded up with probability equal to the fraction.
std::vector<std::int64_t> draw_joins(const Journey &j, const SimulationOptions &o,
                                     int rep) {
  std::vector<std::int64_t> joins(static_cast<std::size_t>(o.periods) + 1, 0);
  joins[0] = o.customers;
  Rng rng(stream_seed(o.seed, static_cast<std::uint64_t>(rep), ~0ULL));
  for (int t = 1; t <= o.periods; ++t) {
    const double a = j.arrivals_at(t);
    const double whole = std::floor(a);
    if (whole > 9e15) throw std::invalid_argument("arrivals are too large to simulate");
    const double u = uniform(rng);
    joins[static_cast<std::size_t>(t)] =
        static_cast<std::int64_t>(whole) + (u < a - whole ? 1 : 0);
  }
  return joins;
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
  out.occupancy.assign(r * t1 * S, 0);
  out.cohort_occupancy.assign(r * t1 * S, 0);
  out.value_by_period.assign(r * (t1 - 1) * K, 0.0);
  out.value_by_period_nominal.assign(r * (t1 - 1) * K, 0.0);
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
        if (control && control->cancel.load()) return;
        run_aggregate(journey, o, rep, out);
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
    if (control && control->cancel.load()) throw SimulationCancelled();
    return out;
  }

  if (!capacity.empty()) {
    run_capacity(journey, o, capacity, control, joins, out);
    return out;
  }
  run_individual(journey, o, control, joins, out, threads);
  return out;
}

} // namespace journeysim
