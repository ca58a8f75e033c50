// The sojourn engine: geometric stays by inversion at hand-computed points, and
// the same process as the per-period engine (retention and value within 4
// standard errors, and of the exact analysis), whatever the thread count.
#include <catch2/catch.hpp>

#include "../../core/src/sojourn.hpp"
#include "helpers.hpp"
#include "journeysim/exact.hpp"
#include "journeysim/simulate.hpp"

#include <cmath>

using namespace journeysim;
using journeysim::testing::mat;
using journeysim::testing::vec;

namespace {

// a stays 0.5 (to b 0.3, churned 0.2); b stays 0.9 for tenure < 3, then 0.6;
// c has no exit but is not absorbing; revenue 10 in a, 20 in b.
Journey sticky() {
  JourneySpec spec;
  spec.stages = {"a", "b", "c", "churned"};
  Segment seg;
  seg.name = "all";
  seg.transitions.starts = {0, 3};
  seg.transitions.pieces = {mat({{0.5, 0.3, 0.0, 0.2},
                                 {0.05, 0.9, 0.0, 0.05},
                                 {0.0, 0.0, 1.0, 0.0},
                                 {0.0, 0.0, 0.0, 1.0}}),
                            mat({{0.5, 0.3, 0.0, 0.2},
                                 {0.1, 0.6, 0.1, 0.2},
                                 {0.0, 0.0, 1.0, 0.0},
                                 {0.0, 0.0, 0.0, 1.0}})};
  ValueStream vs;
  vs.name = "revenue";
  vs.discount_rate = 0.01;
  vs.stage_values.starts = {0};
  vs.stage_values.pieces = {vec({10.0, 20.0, 0.0, 0.0})};
  seg.streams = {vs};
  seg.start = vec({0.6, 0.4, 0.0, 0.0});
  spec.segments = {seg};
  spec.absorbing = {3};
  spec.arrivals = {5.0};
  spec.arrivals_constant = true;
  return Journey(spec);
}

SimulationOptions options(Engine engine, int threads) {
  SimulationOptions o;
  o.customers = 20000;
  o.periods = 10;
  o.seed = 7;
  o.threads = threads;
  o.engine = engine;
  o.record_events = true;
  return o;
}

} // namespace

// The draw u in [0, 1) as the sampler takes it: its 53 bits, u53 = u 2^53
// (exact for the points below, all multiples of 2^-53).
std::uint64_t bits(double u) { return static_cast<std::uint64_t>(std::ldexp(u, 53)); }

TEST_CASE("a geometric stay by inversion: P(K >= k) = stay^k") {
  const detail::SojournSampler s(
      mat({{0.5, 0.5, 0.0}, {0.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}));
  // K = floor(log(1 - u) / log 0.5): 0 below 1/2, 1 in [1/2, 3/4), 2 in [3/4, 7/8).
  CHECK(s.stays(0, bits(0.0), 100) == 0);
  CHECK(s.stays(0, bits(0.5) - 1, 100) == 0); // the largest u below 1/2
  CHECK(s.stays(0, bits(0.5), 100) == 1);
  CHECK(s.stays(0, bits(0.75) - 1, 100) == 1);
  CHECK(s.stays(0, bits(0.75), 100) == 2);
  CHECK(s.stays(0, bits(0.999), 5) == 5); // capped at the end of the stretch
  CHECK(s.stays(1, bits(0.1), 7) == 7);   // no exit: stays to the end
  CHECK(s.stays(2, bits(0.999), 7) == 0); // a stay of 0: leaves at once
  CHECK(s.exit(0, bits(0.3)) == 1);
  CHECK(s.exit(2, bits(0.9)) == 0);
}

TEST_CASE("the table of powers gives the stay the logarithm gives") {
  // stays() finds the largest k with stay^k >= 1 - u in one-read cells, the
  // table of powers or, in the far tail, the logarithm: the same K as
  // floor(log(1 - u) / log(stay)) for every u but those within rounding of a
  // power (none drawn here), in the table, past it, near u = 0 and near
  // u = 1, and with caps.
  const std::vector<double> stays = {0.0,  0.05, 0.3,   0.5,    0.88,
                                     0.95, 0.99, 0.999, 0.99999};
  Matrix P = Matrix::Zero(static_cast<Eigen::Index>(stays.size()) + 1,
                          static_cast<Eigen::Index>(stays.size()) + 1);
  const auto last = static_cast<Eigen::Index>(stays.size());
  for (Eigen::Index i = 0; i < last; ++i) {
    P(i, i) = stays[static_cast<std::size_t>(i)];
    P(i, last) = 1.0 - P(i, i);
  }
  P(last, last) = 1.0;
  const detail::SojournSampler s(P);
  const std::uint64_t one = std::uint64_t{1} << 53;
  std::uint64_t x = 12345;
  std::vector<std::uint64_t> us = {0, 1, one / 2, one - 1, one - (one >> 30)};
  for (int n = 0; n < 200000; ++n) us.push_back(detail::mix(x++) >> 11);
  int checked = 0, mismatched = 0;
  for (Eigen::Index i = 0; i < last; ++i) {
    const double p = stays[static_cast<std::size_t>(i)];
    for (const std::uint64_t u53 : us)
      for (const int cap : {1, 7, 120, 100000}) {
        const double u = std::ldexp(static_cast<double>(u53), -53);
        const double k = p == 0.0 ? 0.0 : std::floor(std::log(1.0 - u) / std::log(p));
        const int want = k < cap ? static_cast<int>(k) : cap;
        ++checked;
        if (s.stays(static_cast<int>(i), u53, cap) != want) ++mismatched;
      }
  }
  CHECK(checked > 7000000);
  CHECK(mismatched == 0);
}

TEST_CASE("the exit read from one cell is the exit of the inverse CDF") {
  // Exits of very different sizes (some far below a cell's width, so that
  // cells hold two or more thresholds and are scanned) against the first
  // stage whose cumulative probability, summed in stage order as the sampler
  // does, exceeds u, at random u and at every threshold and its neighbours.
  Matrix P = Matrix::Zero(7, 7);
  P.row(0) << 0.9, 0.04, 1e-9, 0.03, 0.001, 0.0, 0.029 - 1e-9;
  P.row(1) << 0.2, 0.5, 0.3, 0.0, 0.0, 0.0, 0.0;
  P.row(2) << 0.0, 1e-12, 0.5, 0.25, 0.25 - 1e-12, 0.0, 0.0;
  P.row(3) << 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5;
  P.row(4) << 0.01, 0.01, 0.01, 0.01, 0.9, 0.01, 0.05;
  P.row(5) << 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0;
  P.row(6) << 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0;
  const detail::SojournSampler s(P);
  std::uint64_t x = 777;
  int checked = 0, mismatched = 0;
  for (Eigen::Index i = 0; i < 5; ++i) {
    // the exits as exit_matrix renormalises them, cumulated in stage order
    Eigen::RowVectorXd q = P.row(i);
    q(i) = 0.0;
    q /= q.sum();
    std::vector<double> cdf;
    std::vector<int> to;
    double c = 0.0;
    for (Eigen::Index j = 0; j < 7; ++j)
      if (q(j) > 0.0) {
        cdf.push_back(c += q(j));
        to.push_back(static_cast<int>(j));
      }
    cdf.back() = 2.0;
    std::vector<std::uint64_t> us;
    for (int n = 0; n < 100000; ++n) us.push_back(detail::mix(x++) >> 11);
    for (const double t : cdf)
      if (t < 1.0) {
        const auto at = static_cast<std::uint64_t>(std::ceil(std::ldexp(t, 53)));
        for (std::uint64_t d : {0, 1, 2}) us.insert(us.end(), {at - d, at + d});
      }
    for (const std::uint64_t u53 : us) {
      const double u = std::ldexp(static_cast<double>(u53), -53);
      std::size_t k = 0;
      while (cdf[k] <= u) ++k;
      ++checked;
      if (s.exit(static_cast<int>(i), u53) != to[k]) ++mismatched;
    }
  }
  CHECK(checked > 500000);
  CHECK(mismatched == 0);
}

TEST_CASE("sojourn and per-period engines agree with each other and exact analysis") {
  const Journey j = sticky();
  const auto so = simulate(j, options(Engine::Sojourn, 1));
  const auto pe = simulate(j, options(Engine::Period, 1));
  const Analysis a = analyze(j, 10, Accrual::Start);
  const double n = 20000.0;
  for (int s = 0; s < 4; ++s) {
    const double p = a.occupancy(10, s);
    const double se = std::sqrt(std::max(p * (1 - p), 1e-9) / n);
    for (const auto *r : {&so, &pe}) {
      const double got = static_cast<double>(r->cohort_occupancy[10 * 4 + s]) / n;
      CHECK(std::abs(got - p) < 4 * se);
    }
  }
  // Mean discounted revenue of the cohort, its SE from the sum of squares.
  for (const auto *r : {&so, &pe}) {
    const double mean = r->cohort_value[0] / n;
    const double sd = std::sqrt(r->cohort_value_sq[0] / n - mean * mean);
    CHECK(std::abs(mean - a.value(0)) < 4 * sd / std::sqrt(n));
  }
  // Event logs of the same size (the variance of a total of moves is below
  // three times its mean here: at most a few moves per customer).
  const auto m1 = static_cast<double>(so.event_customer.size());
  const auto m2 = static_cast<double>(pe.event_customer.size());
  CHECK(std::abs(m1 - m2) < 4 * std::sqrt(3 * (m1 + m2)));
}

TEST_CASE("the sojourn engine gives identical results for 1, 2 and 3 threads") {
  const Journey j = sticky();
  const auto a = simulate(j, options(Engine::Sojourn, 1));
  for (int threads : {2, 3}) {
    const auto b = simulate(j, options(Engine::Sojourn, threads));
    CHECK(a.occupancy == b.occupancy);
    CHECK(a.value_by_period == b.value_by_period);
    CHECK(a.cohort_value == b.cohort_value);
    CHECK(a.customer_value == b.customer_value);
    CHECK(a.event_customer == b.event_customer);
    CHECK(a.event_to == b.event_to);
  }
}
