// Numerical edge cases of the core (docs/reliability.md, "Numerical edge
// cases"): stays close to one, ill-conditioned fundamental matrices, overflow,
// long horizons, huge cohorts and the bounded memory of the simulation's sums.
#include "helpers.hpp"
#include "journeysim/exact.hpp"
#include "journeysim/linalg.hpp"
#include "journeysim/simulate.hpp"

#include "../../core/src/compensated.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace journeysim;
using Catch::Contains;
using Catch::Matchers::WithinRel;
using journeysim::testing::mat;
using journeysim::testing::vec;

ValueStream stream(const std::string &name, double rate, const Vector &values) {
  ValueStream vs;
  vs.name = name;
  vs.discount_rate = rate;
  vs.stage_values = {{0}, {values}};
  return vs;
}

Journey journey(std::vector<std::string> stages, const Matrix &P,
                std::vector<ValueStream> streams = {},
                std::vector<double> arrivals = {}, bool constant = false) {
  JourneySpec spec;
  spec.stages = std::move(stages);
  Segment seg;
  seg.name = "all";
  seg.transitions = {{0}, {P}};
  seg.start = Vector::Unit(P.rows(), 0);
  seg.streams = std::move(streams);
  spec.segments = {seg};
  spec.arrivals = std::move(arrivals);
  spec.arrivals_constant = constant;
  return Journey(spec);
}

// a <-> b, each leaking to "churned" with probability e: I - Q is nearly singular.
Matrix cycle(double e) {
  return mat({{0.0, 1.0 - e, e}, {1.0 - e, 0.0, e}, {0.0, 0.0, 1.0}});
}

std::vector<Eigen::Index> first(Eigen::Index m) {
  std::vector<Eigen::Index> idx;
  for (Eigen::Index i = 0; i < m; ++i) idx.push_back(i);
  return idx;
}

} // namespace

TEST_CASE("a stay of 1 - 1e-12 gives a lifetime of 1e12 to full precision") {
  // 1 - P_ii would be 1.0000221e-12 (the stay rounds): the exits are used instead.
  const double eps = 1e-12;
  const Matrix P = mat({{1.0 - eps, eps}, {0.0, 1.0}});
  const FundamentalSolver s(P, {0}, 1.0);
  CHECK(s.subtraction_free());
  CHECK_THAT(s.solve(Matrix::Ones(1, 1))(0, 0), WithinRel(1e12, 1e-15));
  CHECK(s.condition() < 10.0); // badly scaled, but well conditioned
  const Analysis a = analyze(journey({"active", "churned"}, P), 12);
  CHECK_THAT(a.lifetime, WithinRel(1e12, 1e-15));
  CHECK(a.absorption(1) == 1.0);
  CHECK(a.condition_warnings.empty());
}

TEST_CASE("an ill-conditioned fundamental matrix: exact results and a warning") {
  for (double e : {1e-6, 1e-10, 1e-13}) {
    const FundamentalSolver s(cycle(e), first(2), 1.0);
    CHECK(s.subtraction_free());
    // Condition number 2 / e (||A|| = 2 - e, ||A^-1|| = 1 / e).
    CHECK_THAT(s.condition(), WithinRel(2.0 / e, 1e-6));
    const Analysis a = analyze(journey({"a", "b", "churned"}, cycle(e)), 12);
    CHECK_THAT(a.lifetime, WithinRel(1.0 / e, 1e-12));
    CHECK_THAT(a.absorption(2), WithinRel(1.0, 1e-15));
    CHECK(a.condition == s.condition());
    if (e < 1e-12) {
      REQUIRE(a.condition_warnings.size() == 1);
      CHECK_THAT(a.condition_warnings[0], Contains("condition number 2.0e+13"));
    } else {
      CHECK(a.condition_warnings.empty());
    }
  }
}

TEST_CASE("the transposed and sparse solves agree with the dense LU") {
  // A long sparse chain (sparse LU) and a small dense one (GTH), both ways.
  for (Eigen::Index n : {8, 300}) {
    Matrix P = Matrix::Zero(n, n);
    for (Eigen::Index i = 0; i + 1 < n; ++i) {
      P(i, i + 1) = 0.6;
      P(i, (i * 7 + 3) % n) += 0.3;
      P(i, n - 1) += 0.1;
    }
    P(n - 1, n - 1) = 1.0;
    for (Eigen::Index i = 0; i + 1 < n; ++i) P(i, i) += 1.0 - P.row(i).sum();
    for (double d : {1.0, 0.99, 1.02}) {
      const auto idx = first(n - 1);
      const FundamentalSolver s(P, idx, d);
      const Matrix A =
          Matrix::Identity(n - 1, n - 1) - d * P.topLeftCorner(n - 1, n - 1);
      const Eigen::PartialPivLU<Matrix> lu(A);
      const Matrix B = Matrix::Random(n - 1, 3);
      const Matrix x = s.solve(B), ref = lu.solve(B);
      CHECK((x - ref).norm() <= 1e-10 * ref.norm());
      const Matrix xt = s.solve_transposed(B), reft = lu.transpose().solve(B);
      CHECK((xt - reft).norm() <= 1e-10 * reft.norm());
      CHECK(s.condition() > 1.0);
    }
  }
}

TEST_CASE("discount factors that overflow within the horizon are refused") {
  const Matrix P = mat({{0.9, 0.1}, {0.0, 1.0}});
  const auto j =
      journey({"active", "churned"}, P, {stream("rev", -0.999, vec({1, 0}))});
  CHECK_THROWS_WITH(analyze(j, 120), Contains("discount rate of -0.999 over 120"));
  SimulationOptions o;
  o.customers = 10;
  o.periods = 120;
  CHECK_THROWS_WITH(simulate(j, o), Contains("beyond double precision"));
  // Fewer periods fit (1000^100 = 1e300): finite numbers.
  const Analysis a = analyze(j, 100);
  CHECK(std::isfinite(a.value(0)));
  // Very large rates: factors underflow to 0, harmlessly.
  const auto big =
      journey({"active", "churned"}, P, {stream("rev", 1e300, vec({1, 0}))});
  CHECK(analyze(big, 120).value(0) == 1.0);
}

TEST_CASE("results that overflow double precision are an error, not inf or nan") {
  const Matrix P = mat({{0.9, 0.1}, {0.0, 1.0}});
  const auto j =
      journey({"active", "churned"}, P,
              {stream("a", 0.0, vec({1e308, 0})), stream("b", 0.0, vec({1e308, 0}))});
  CHECK_THROWS_WITH(analyze(j, 12), Contains("overflow"));
  // Over the horizon alone too: the population of 1e300 customers.
  const auto many = journey({"active", "churned"}, P,
                            {stream("a", 0.0, vec({1e10, 0}))}, {1e300}, true);
  CHECK_THROWS_WITH(analyze(many, 12),
                    Contains("the analysis overflows double precision"));
  SimulationOptions o;
  o.customers = 100;
  o.periods = 12;
  o.method = Method::Aggregate;
  CHECK_THROWS_WITH(simulate(j, o), Contains("overflow double precision"));
}

TEST_CASE("constant arrivals over 10,000 periods: running sums equal the convolution") {
  const Matrix P = mat({{0.95, 0.04, 0.01}, {0.0, 0.99, 0.01}, {0.0, 0.0, 1.0}});
  const int T = 2000; // the convolution is O(T^2): a shorter horizon for it
  const auto s = stream("rev", 0.001, vec({1, 2, 0}));
  const Analysis c =
      analyze(journey({"new", "active", "churned"}, P, {s}, {1000.0}, true), T);
  const Analysis v = analyze(
      journey({"new", "active", "churned"}, P, {s}, std::vector<double>(T, 1000.0)), T);
  CHECK((c.population - v.population).norm() <= 1e-12 * v.population.norm());
  CHECK((c.population_entries - v.population_entries).norm() <=
        1e-12 * v.population_entries.norm());
  CHECK((c.population_value_by_period - v.population_value_by_period).norm() <=
        1e-12 * v.population_value_by_period.norm());
  CHECK((c.population_value_by_period_nominal - v.population_value_by_period_nominal)
            .norm() <= 1e-12 * v.population_value_by_period_nominal.norm());
  // 10,000 periods with constant arrivals: linear in T, closed form at the end.
  const Analysis a =
      analyze(journey({"new", "active", "churned"}, P, {s}, {1000.0}, true), 10000);
  CHECK(a.population.allFinite());
  // Everyone who ever joined is somewhere: 1 + 10,000 x 1,000.
  CHECK_THAT(a.population.row(10000).sum(), WithinRel(1.0 + 1e7, 1e-14));
}

TEST_CASE("compensated sums keep what naive ones lose") {
  detail::CompensatedSum acc;
  double naive = 0.0;
  acc.add(1e16);
  naive += 1e16;
  for (int i = 0; i < 10000; ++i) {
    acc.add(1.0);
    naive += 1.0;
  }
  acc.add(-1e16);
  naive -= 1e16;
  CHECK(acc.value() == 10000.0);
  CHECK(naive == 0.0);
}

TEST_CASE("aggregate mode: 10^9 arrivals a period are counted exactly in 64 bits") {
  const Matrix P = mat({{0.9, 0.1}, {0.0, 1.0}});
  const auto j =
      journey({"active", "churned"}, P, {stream("rev", 0.0, vec({1, 0}))}, {1e9}, true);
  SimulationOptions o;
  o.customers = 1000000000;
  o.periods = 1000;
  o.method = Method::Aggregate;
  const auto r = simulate(j, o);
  const std::size_t S = 2;
  for (int t : {0, 1, 500, 1000}) {
    const auto row = static_cast<std::size_t>(t) * S;
    CHECK(r.occupancy[row] + r.occupancy[row + 1] ==
          std::int64_t{1000000000} * (1 + t));
  }
  // Nominal value of a period is 1 per active customer: an integer, exactly.
  for (int t = 1; t <= 1000; ++t)
    CHECK(r.value_by_period_nominal[static_cast<std::size_t>(t - 1)] ==
          static_cast<double>(r.occupancy[static_cast<std::size_t>(t - 1) * S]));
  o.customers = std::int64_t{1} << 62;
  CHECK_THROWS_WITH(simulate(j, o), Contains("2^62"));
}

TEST_CASE("many blocks in waves: identical results for any thread count") {
  const Matrix P = mat({{0.8, 0.15, 0.05}, {0.1, 0.85, 0.05}, {0.0, 0.0, 1.0}});
  Matrix moves = Matrix::Zero(3, 3);
  moves(0, 1) = 5.0;
  auto s = stream("rev", 0.01, vec({1, 3, 0}));
  s.transition_values = moves;
  const auto j = journey({"a", "b", "churned"}, P, {s}, {100.0}, true);
  SimulationOptions o;
  o.customers = 4096 * 150; // more blocks than a wave holds
  o.periods = 24;
  o.seed = 7;
  o.per_customer = false;
  o.threads = 1;
  const auto a = simulate(j, o);
  for (int threads : {2, 3, 8}) {
    o.threads = threads;
    const auto b = simulate(j, o);
    CHECK(a.occupancy == b.occupancy);
    CHECK(a.value_by_period == b.value_by_period);
    CHECK(a.cohort_value == b.cohort_value);
    CHECK(a.cohort_lifetime == b.cohort_lifetime);
  }
  // The memory estimate does not grow with the customers (totals only).
  o.threads = 2;
  const auto small = simulation_memory(j, o);
  o.customers *= 1000;
  const auto large = simulation_memory(j, o);
  REQUIRE(small.size() == large.size());
  for (std::size_t i = 0; i < small.size(); ++i)
    CHECK(small[i].second == large[i].second);
}

TEST_CASE("sensitivities of an infinite lifetime are nan, of unvisited rows zero") {
  // a -> loop (never absorbed) or churned; b is never visited from a.
  const Matrix P = mat({{0.5, 0.2, 0.0, 0.3},
                        {0.0, 1.0, 0.0, 0.0},
                        {0.0, 0.0, 0.9, 0.1},
                        {0.0, 0.0, 0.0, 1.0}});
  JourneySpec spec;
  spec.stages = {"a", "loop", "b", "churned"};
  Segment seg;
  seg.name = "all";
  seg.transitions = {{0}, {P}};
  seg.start = Vector::Unit(4, 0);
  spec.segments = {seg};
  spec.absorbing = {3};
  const Journey j(spec);
  const std::vector<int> stay = {0, 1, 2, 3};
  const Matrix whole =
      sensitivities(j, std::nullopt, Accrual::Start, Sensitivity::Lifetime, stay);
  CHECK(std::isnan(whole(0, 3)));
  // Over a horizon the lifetime is finite; b's row is never visited: zero.
  const Matrix horizon =
      sensitivities(j, 12, Accrual::Start, Sensitivity::Lifetime, stay);
  CHECK(horizon.allFinite());
  CHECK(horizon.row(2).isZero(0.0));
  // No horizon is the whole lifetime; a negative one is refused, not taken for it.
  CHECK_THROWS_WITH(sensitivities(j, -1, Accrual::Start, Sensitivity::Lifetime, stay),
                    Contains("periods must be >= 0"));
  CHECK_THROWS_WITH(
      sensitivities(j, std::nullopt, Accrual::Start, Sensitivity::Retention, stay),
      Contains("retention needs a finite horizon"));
}
