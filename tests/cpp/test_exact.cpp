// Specification of the exact cohort analytics (core/include/journeysim/exact.hpp).
// Every expected value is a closed form worked by hand in the comment beside it,
// using the time line of exact.hpp: period k moves x_{k-1} to x_k; its value is
//   Start: x_{k-1}.v d^(k-1)   End: x_k.v d^k   HalfCycle: (x_{k-1}+x_k)/2.v d^(k-1/2)
//   LifeTable (heemod): (x_{k-1}+x_k)/2.v d^(k-1)
//   moves: sum_ij x_{k-1,i} P_ij T_ij d^k,   with d = 1 / (1 + r).
#include "helpers.hpp"
#include "journeysim/exact.hpp"
#include "journeysim/model.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using namespace journeysim;
using Catch::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using journeysim::testing::mat;
using journeysim::testing::vec;

constexpr double kRel = 1e-12;

Vector unit(Eigen::Index n, Eigen::Index i) { return Vector::Unit(n, i); }

ValueStream stream(const std::string &name, double rate, const Vector &values) {
  ValueStream vs;
  vs.name = name;
  vs.discount_rate = rate;
  vs.stage_values = {{0}, {values}};
  return vs;
}

Segment segment(const std::string &name, double share, const Matrix &P,
                const Vector &start, std::vector<ValueStream> streams) {
  Segment seg;
  seg.name = name;
  seg.share = share;
  seg.transitions = {{0}, {P}};
  seg.start = start;
  seg.streams = std::move(streams);
  return seg;
}

JourneySpec one_segment(std::vector<std::string> stages, const Matrix &P,
                        const Vector &start, std::vector<ValueStream> streams) {
  JourneySpec s;
  s.stages = std::move(stages);
  s.segments = {segment("all", 1.0, P, start, std::move(streams))};
  return s;
}

Matrix churn_matrix(double stay) { return mat({{stay, 1.0 - stay}, {0.0, 1.0}}); }

// "active" (stay with probability s) -> "churned" (absorbing); one stream
// "revenue" of v per period in active, at discount rate r. Starts in active.
JourneySpec churn_chain(double s, double v, double r) {
  return one_segment({"active", "churned"}, churn_matrix(s), vec({1.0, 0.0}),
                     {stream("revenue", r, vec({v, 0.0}))});
}

JourneySpec started_at(JourneySpec s, Eigen::Index stage) {
  for (auto &seg : s.segments) seg.start = unit(seg.start.size(), stage);
  return s;
}

// Gambler's ruin on 0..4: 0 and 4 absorbing, up with probability q, down with 1 - q.
JourneySpec gamblers_ruin(double q, Eigen::Index start) {
  Matrix P = Matrix::Zero(5, 5);
  P(0, 0) = 1.0;
  P(4, 4) = 1.0;
  for (Eigen::Index i = 1; i <= 3; ++i) {
    P(i, i + 1) = q;
    P(i, i - 1) = 1.0 - q;
  }
  return one_segment({"0", "1", "2", "3", "4"}, P, unit(5, start),
                     {stream("none", 0.0, Vector::Zero(5))});
}

// trial -> onboarding -> active (the value stage); each may churn.
//   trial:      stay 0.2, -> onboarding 0.6, -> churned 0.2
//   onboarding: stay 0.5, -> active 0.4,     -> churned 0.1
//   active:     stay 0.9,                    -> churned 0.1
Matrix funnel_matrix() {
  return mat({{0.2, 0.6, 0.0, 0.2},
              {0.0, 0.5, 0.4, 0.1},
              {0.0, 0.0, 0.9, 0.1},
              {0.0, 0.0, 0.0, 1.0}});
}
const std::vector<std::string> kFunnel = {"trial", "onboarding", "active", "churned"};

void check_pos_inf(double x) {
  INFO("value: " << x);
  CHECK(std::isinf(x));
  CHECK(x > 0.0);
}

} // namespace

TEST_CASE("analyze rejects a negative horizon and T = 0 is the start only", "[exact]") {
  const Journey j(churn_chain(0.75, 10.0, 0.0));
  REQUIRE_THROWS_AS(analyze(j, -1), std::invalid_argument);
  REQUIRE_THROWS_WITH(analyze(j, -1), Contains("periods must be >= 0, got -1"));

  const Analysis a = analyze(j, 0);
  CHECK(a.occupancy.rows() == 1); // t = 0 only
  CHECK(a.occupancy(0, 0) == 1.0);
  CHECK(a.value_by_period.rows() == 0);
  CHECK(a.value(0) == 0.0); // no period, no value
  CHECK(a.lifetime_horizon == 0.0);
  CHECK_THAT(a.lifetime, WithinRel(4.0, kRel)); // 1 / 0.25, whatever the horizon
}

TEST_CASE("geometric lifetime of a two-stage churn chain", "[exact]") {
  // active -> churned with p = 0.25 each period (stay s = 0.75), T = 10.
  const double p = 0.25, s = 0.75;
  const int T = 10;
  const Analysis a = analyze(Journey(churn_chain(s, 1.0, 0.0)), T);
  REQUIRE(a.occupancy.rows() == T + 1);
  for (int t = 0; t <= T; ++t) {
    CHECK_THAT(a.occupancy(t, 0), WithinRel(std::pow(s, t), kRel)); // (1-p)^t
    CHECK_THAT(a.retention(t), WithinRel(std::pow(s, t), kRel));    // (1-p)^t
    CHECK_THAT(a.occupancy(t, 1), WithinAbs(1.0 - std::pow(s, t), 1e-15));
  }
  for (int t = 0; t < T; ++t) // hazard 1 - S(t+1)/S(t) = p, constant
    CHECK_THAT(1.0 - a.retention(t + 1) / a.retention(t), WithinRel(p, kRel));
  CHECK_THAT(a.lifetime, WithinRel(1.0 / p, kRel)); // 1/p = 4
  // sum_{t<T} (1-p)^t = (1 - (1-p)^T) / p = 4 (1 - 0.75^10) = 3.774745941...
  CHECK_THAT(a.lifetime_horizon, WithinRel((1.0 - std::pow(s, T)) / p, kRel));
  CHECK_THAT(a.absorption(1), WithinRel(1.0, kRel)); // everybody churns eventually
  CHECK(a.absorption(0) == 0.0);                     // active is not absorbing
  CHECK_THAT(a.stage_lifetime(0), WithinRel(4.0, kRel));
  CHECK(a.stage_lifetime(1) == 0.0); // no time left to spend alive once churned
  // With 1 per active period and r = 0 the lifetime value is the lifetime.
  CHECK_THAT(a.value_infinite(0), WithinRel(4.0, kRel));
  CHECK_THAT(a.value(0), WithinRel(a.lifetime_horizon, kRel));
  CHECK(a.warnings.empty());
}

TEST_CASE("gambler's ruin: absorption probabilities and expected duration", "[exact]") {
  SECTION("biased: up with q = 0.6, down with p = 0.4") {
    // P(absorb at 4 | i) = (1 - (p/q)^i) / (1 - (p/q)^4), p/q = 2/3, 1 - (2/3)^4 =
    // 65/81:
    //   i=1: (1/3)(81/65) = 27/65; i=2: (5/9)(81/65) = 9/13; i=3: (19/27)(81/65) =
    //   57/65.
    // Duration D_i = i/(p-q) - 4/(p-q) P(4|i) = -5i + 20 P(4|i):
    //   D_1 = 43/13, D_2 = 50/13, D_3 = 33/13
    //   (check: D_2 = 1 + 0.6 D_3 + 0.4 D_1 = 1 + (19.8 + 17.2)/13 = 50/13).
    const double up[] = {0.0, 27.0 / 65.0, 9.0 / 13.0, 57.0 / 65.0};
    const double dur[] = {0.0, 43.0 / 13.0, 50.0 / 13.0, 33.0 / 13.0};
    for (Eigen::Index i = 1; i <= 3; ++i) {
      const Journey j(gamblers_ruin(0.6, i));
      CHECK(j.absorbing() == std::vector<bool>{true, false, false, false, true});
      const Analysis a = analyze(j, 1);
      INFO("start " << i);
      CHECK_THAT(a.absorption(4), WithinRel(up[i], kRel));
      CHECK_THAT(a.absorption(0), WithinRel(1.0 - up[i], kRel));
      CHECK(a.absorption(2) == 0.0);
      CHECK_THAT(a.lifetime, WithinRel(dur[i], kRel));
    }
    const Analysis a = analyze(Journey(gamblers_ruin(0.6, 2)), 1);
    for (Eigen::Index i = 1; i <= 3; ++i)
      CHECK_THAT(a.stage_lifetime(i), WithinRel(dur[i], kRel));
    CHECK(a.stage_lifetime(0) == 0.0);
    CHECK(a.stage_lifetime(4) == 0.0);
  }
  SECTION("fair: q = p = 0.5") {
    // P(absorb at 4 | i) = i/4; D_i = i (4 - i) = 3, 4, 3.
    for (Eigen::Index i = 1; i <= 3; ++i) {
      const Analysis a = analyze(Journey(gamblers_ruin(0.5, i)), 1);
      INFO("start " << i);
      CHECK_THAT(a.absorption(4), WithinRel(static_cast<double>(i) / 4.0, kRel));
      CHECK_THAT(a.absorption(0), WithinRel(1.0 - static_cast<double>(i) / 4.0, kRel));
      CHECK_THAT(a.lifetime, WithinRel(static_cast<double>(i * (4 - i)), kRel));
    }
  }
}

TEST_CASE("constant stream, start accrual", "[exact][accrual]") {
  // v = 10 in active, s = 0.75, r = 0.25 -> d = 0.8, s d = 0.6, T = 5.
  const double v = 10.0, s = 0.75, sd = 0.6;
  const int T = 5;
  const Analysis a = analyze(Journey(churn_chain(s, v, 0.25)), T, Accrual::Start);
  for (int k = 1; k <= T; ++k) {
    // x_{k-1} = s^(k-1), discounted d^(k-1): 10, 6, 3.6, 2.16, 1.296
    CHECK_THAT(a.value_by_period(k - 1, 0), WithinRel(v * std::pow(sd, k - 1), kRel));
    CHECK_THAT(a.value_by_period_nominal(k - 1, 0),
               WithinRel(v * std::pow(s, k - 1), kRel));
  }
  // v (1 - (sd)^T) / (1 - sd) = 25 (1 - 0.6^5) = 23.056
  CHECK_THAT(a.value(0), WithinRel(v * (1.0 - std::pow(sd, T)) / (1.0 - sd), kRel));
  CHECK_THAT(a.value(0), WithinRel(23.056, kRel));
  CHECK_THAT(a.value(1), WithinRel(23.056, kRel)); // net = 1 x revenue
  // v / (1 - s d) = 10 / 0.4 = 25
  CHECK_THAT(a.value_infinite(0), WithinRel(25.0, kRel));
  CHECK_THAT(a.stage_value_infinite(0, 0), WithinRel(25.0, kRel));
  CHECK(a.stage_value_infinite(1, 0) == 0.0);
  CHECK_THAT(a.stage_value(0, 0), WithinRel(23.056, kRel));
}

TEST_CASE("constant stream, end accrual", "[exact][accrual]") {
  // Period k: x_k = s^k, discounted d^k: v (sd)^k.
  const double v = 10.0, s = 0.75, sd = 0.6;
  const int T = 5;
  const Analysis a = analyze(Journey(churn_chain(s, v, 0.25)), T, Accrual::End);
  for (int k = 1; k <= T; ++k) {
    CHECK_THAT(a.value_by_period(k - 1, 0),
               WithinRel(v * std::pow(sd, k), kRel)); // 6, 3.6..
    CHECK_THAT(a.value_by_period_nominal(k - 1, 0),
               WithinRel(v * std::pow(s, k), kRel));
  }
  // sum_{k=1..T} v (sd)^k = v sd (1 - (sd)^T) / (1 - sd) = 15 (1 - 0.6^5) = 13.8336
  CHECK_THAT(a.value(0), WithinRel(13.8336, kRel));
  // v s d / (1 - s d) = 6 / 0.4 = 15
  CHECK_THAT(a.value_infinite(0), WithinRel(15.0, kRel));
  CHECK_THAT(a.stage_value_infinite(0, 0), WithinRel(15.0, kRel));
}

TEST_CASE("constant stream, half-cycle accrual", "[exact][accrual]") {
  // Period k: (s^(k-1) + s^k)/2 v d^(k-1/2) = v (1+s)/2 sqrt(d) (sd)^(k-1)
  //         = 8.75 sqrt(0.8) 0.6^(k-1).
  const double v = 10.0, s = 0.75, d = 0.8, sd = 0.6;
  const int T = 5;
  const Analysis a = analyze(Journey(churn_chain(s, v, 0.25)), T, Accrual::HalfCycle);
  const double c = v * (1.0 + s) / 2.0 * std::sqrt(d); // 8.75 sqrt(0.8)
  for (int k = 1; k <= T; ++k) {
    CHECK_THAT(a.value_by_period(k - 1, 0), WithinRel(c * std::pow(sd, k - 1), kRel));
    // undiscounted: 8.75 * 0.75^(k-1)
    CHECK_THAT(a.value_by_period_nominal(k - 1, 0),
               WithinRel(8.75 * std::pow(s, k - 1), kRel));
  }
  // c (1 - 0.6^5) / 0.4 = 21.875 sqrt(0.8) (1 - 0.07776)
  CHECK_THAT(a.value(0), WithinRel(21.875 * std::sqrt(0.8) * 0.92224, kRel));
  // c / (1 - s d) = 21.875 sqrt(0.8) = 19.565...
  CHECK_THAT(a.value_infinite(0), WithinRel(21.875 * std::sqrt(0.8), kRel));
}

TEST_CASE("life-table accrual on a 2-stage chain, by hand", "[exact][accrual]") {
  // heemod's method = "life-table" with discount(x, r): the count of period k is
  // (x_{k-1} + x_k)/2 and cycle k is divided by (1+r)^(k-1) (first = FALSE:
  // the first cycle is not discounted). active -> churned, s = 0.75, v = 10,
  // r = 0.25 so d = 0.8, s d = 0.6. Occupancy of active: 1, 0.75, 0.5625, ...
  //   k=1: (1      + 0.75    )/2 * 10 * 1    = 0.875     * 10        = 8.75
  //   k=2: (0.75   + 0.5625  )/2 * 10 * 0.8  = 0.65625   * 8         = 5.25
  //   k=3: (0.5625 + 0.421875)/2 * 10 * 0.64 = 0.4921875 * 6.4       = 3.15
  // i.e. 8.75 * 0.6^(k-1): the half-cycle value divided by sqrt(d).
  const double v = 10.0, s = 0.75, d = 0.8, sd = 0.6;
  const int T = 5;
  const Journey j(churn_chain(s, v, 0.25));
  const Analysis a = analyze(j, T, Accrual::LifeTable);
  CHECK_THAT(a.value_by_period(0, 0), WithinRel(8.75, kRel));
  CHECK_THAT(a.value_by_period(1, 0), WithinRel(5.25, kRel));
  CHECK_THAT(a.value_by_period(2, 0), WithinRel(3.15, kRel));
  for (int k = 1; k <= T; ++k) {
    CHECK_THAT(a.value_by_period(k - 1, 0),
               WithinRel(8.75 * std::pow(sd, k - 1), kRel));
    // undiscounted: the half-cycle counts, 8.75 * 0.75^(k-1)
    CHECK_THAT(a.value_by_period_nominal(k - 1, 0),
               WithinRel(8.75 * std::pow(s, k - 1), kRel));
  }
  // 8.75 (1 - 0.6^5) / 0.4 = 21.875 * 0.92224 = 20.174
  CHECK_THAT(a.value(0), WithinRel(21.875 * 0.92224, kRel));
  // 8.75 / (1 - 0.6) = 21.875 over the whole lifetime, from active (and 0 from churned)
  CHECK_THAT(a.value_infinite(0), WithinRel(21.875, kRel));
  CHECK_THAT(a.stage_value_infinite(0, 0), WithinRel(21.875, kRel));
  CHECK(a.stage_value_infinite(1, 0) == 0.0);
  // Side by side: half-cycle = life-table * sqrt(d), period by period.
  const Analysis h = analyze(j, T, Accrual::HalfCycle);
  for (int k = 1; k <= T; ++k)
    CHECK_THAT(h.value_by_period(k - 1, 0),
               WithinRel(a.value_by_period(k - 1, 0) * std::sqrt(d), kRel));
  // Occupancy does not depend on the accrual.
  CHECK(a.occupancy == h.occupancy);
  // Tenure-dependent values: -50 at tenure 0, +10 after. k=1: 0.875 * -50 = -43.75;
  // k>=2: 8.75 * 0.6^(k-1), summing to 8.75 * 0.6 / 0.4 = 13.125.
  JourneySpec spec = churn_chain(s, 0.0, 0.25);
  spec.segments[0].streams[0].stage_values = {{0, 1},
                                              {vec({-50.0, 0.0}), vec({v, 0.0})}};
  const Analysis t = analyze(Journey(spec), 3, Accrual::LifeTable);
  CHECK_THAT(t.value_infinite(0), WithinRel(-30.625, kRel)); // -43.75 + 13.125
  // T = 3: -43.75 + 8.75 * (0.6 + 0.36) = -43.75 + 8.4 = -35.35
  CHECK_THAT(t.value(0), WithinRel(-35.35, kRel));
}

TEST_CASE("a fee on a move is discounted like end accrual, whatever the accrual",
          "[exact][accrual]") {
  // A fee F = 20 on active -> churned; no stage values. s = 0.75, d = 0.8.
  // Period k: x_{k-1} (1-s) F d^k = 0.75^(k-1) * 0.25 * 20 * 0.8^k = 4 * 0.6^(k-1).
  JourneySpec spec = churn_chain(0.75, 0.0, 0.25);
  spec.segments[0].streams[0].transition_values = mat({{0.0, 20.0}, {0.0, 0.0}});
  const Journey j(spec);
  const int T = 5;
  for (Accrual acc :
       {Accrual::Start, Accrual::End, Accrual::HalfCycle, Accrual::LifeTable}) {
    const Analysis a = analyze(j, T, acc);
    INFO("accrual " << static_cast<int>(acc));
    for (int k = 1; k <= T; ++k) {
      CHECK_THAT(a.value_by_period(k - 1, 0),
                 WithinRel(4.0 * std::pow(0.6, k - 1), kRel));
      // undiscounted: 5 * 0.75^(k-1)
      CHECK_THAT(a.value_by_period_nominal(k - 1, 0),
                 WithinRel(5.0 * std::pow(0.75, k - 1), kRel));
    }
    // 4 (1 - 0.6^5) / 0.4 = 10 (1 - 0.07776) = 9.2224
    CHECK_THAT(a.value(0), WithinRel(9.2224, kRel));
    // F (1-s) d / (1 - s d) = 20 * 0.25 * 0.8 / 0.4 = 10
    CHECK_THAT(a.value_infinite(0), WithinRel(10.0, kRel));
    CHECK(a.stage_value_infinite(1, 0) == 0.0); // no moves out of churned
  }
}

TEST_CASE("tenure-dependent churn: 0.5 in the first period, then 0.1",
          "[exact][tenure]") {
  JourneySpec spec = churn_chain(0.5, 10.0, 0.25);
  spec.segments[0].transitions = {{0, 1}, {churn_matrix(0.5), churn_matrix(0.9)}};
  const Journey j(spec);
  CHECK(j.stationary_from() == 1);
  const int T = 4;
  const Analysis a = analyze(j, T);
  // S(0) = 1, S(t) = 0.5 * 0.9^(t-1): 1, 0.5, 0.45, 0.405, 0.3645
  const double S[] = {1.0, 0.5, 0.45, 0.405, 0.3645};
  for (int t = 0; t <= T; ++t) CHECK_THAT(a.retention(t), WithinRel(S[t], kRel));
  // Lifetime: 1 + 0.5 * sum_j 0.9^j = 1 + 0.5 / 0.1 = 6
  CHECK_THAT(a.lifetime, WithinRel(6.0, kRel));
  CHECK_THAT(a.stage_lifetime(0), WithinRel(6.0, kRel));
  // Within T = 4: 1 + 0.5 + 0.45 + 0.405 = 2.355
  CHECK_THAT(a.lifetime_horizon, WithinRel(2.355, kRel));
  // Start, d = 0.8: 10 (1 + 0.5*0.8 + 0.45*0.64 + 0.405*0.512) = 18.9536
  CHECK_THAT(a.value(0), WithinRel(18.9536, kRel));
  // 10 (1 + 0.5 * 0.8 * sum_j 0.72^j) = 10 (1 + 0.4 / 0.28) = 170/7
  CHECK_THAT(a.value_infinite(0), WithinRel(170.0 / 7.0, kRel));
  CHECK_THAT(a.absorption(1), WithinRel(1.0, kRel));
  // End: sum_k 10 S(k) 0.8^k = 10 * 0.5 * 0.8 * sum_j 0.72^j = 4 / 0.28 = 100/7
  CHECK_THAT(analyze(j, T, Accrual::End).value_infinite(0),
             WithinRel(100.0 / 7.0, kRel));
}

TEST_CASE("tenure-dependent stage values: an onboarding cost, then revenue",
          "[exact][tenure]") {
  // -50 at tenure 0, +10 from tenure 1 on, in active; s = 0.75, d = 0.8, s d = 0.6.
  JourneySpec spec = churn_chain(0.75, 0.0, 0.25);
  spec.segments[0].streams[0].stage_values = {{0, 1},
                                              {vec({-50.0, 0.0}), vec({10.0, 0.0})}};
  const Journey j(spec);
  CHECK(j.stationary_from() == 1);
  SECTION("start") {
    const Analysis a = analyze(j, 3, Accrual::Start);
    CHECK_THAT(a.value(0), WithinRel(-40.4, kRel)); // -50 + 10*0.6 + 10*0.36
    // -50 + sum_{k>=2} 10 * 0.6^(k-1) = -50 + 10 * 0.6 / 0.4 = -35
    CHECK_THAT(a.value_infinite(0), WithinRel(-35.0, kRel));
  }
  SECTION("end") {
    const Analysis a = analyze(j, 3, Accrual::End);
    // k=1: x_1 v(0) d = 0.75 * -50 * 0.8 = -30; k=2: 10 * 0.6^2 = 3.6; k=3: 2.16
    CHECK_THAT(a.value(0), WithinRel(-24.24, kRel));
    // -30 + sum_{k>=2} 10 * 0.6^k = -30 + 3.6 / 0.4 = -21
    CHECK_THAT(a.value_infinite(0), WithinRel(-21.0, kRel));
  }
  SECTION("half-cycle") {
    const Analysis a = analyze(j, 3, Accrual::HalfCycle);
    // k=1: (1 + 0.75)/2 * -50 * sqrt(d) = -43.75 sqrt(d)
    // k>=2: 8.75 sqrt(d) 0.6^(k-1), summing to 8.75 * 1.5 = 13.125 sqrt(d)
    CHECK_THAT(a.value_infinite(0), WithinRel(-30.625 * std::sqrt(0.8), kRel));
    // T = 3: sqrt(d) (-43.75 + 8.75 * (0.6 + 0.36)) = -35.35 sqrt(d)
    CHECK_THAT(a.value(0), WithinRel(-35.35 * std::sqrt(0.8), kRel));
  }
}

TEST_CASE("segments: a share-weighted mixture of two chains", "[exact][segments]") {
  // 'fast' (share 0.25) churns 0.5 per period, 'slow' (share 0.75) churns 0.1.
  JourneySpec spec;
  spec.stages = {"active", "churned"};
  spec.segments = {segment("fast", 0.25, churn_matrix(0.5), vec({1.0, 0.0}),
                           {stream("revenue", 0.25, vec({1.0, 0.0}))}),
                   segment("slow", 0.75, churn_matrix(0.9), vec({1.0, 0.0}),
                           {stream("revenue", 0.25, vec({1.0, 0.0}))})};
  const Analysis a = analyze(Journey(spec), 3);
  REQUIRE(a.segments.size() == 2);
  CHECK_THAT(a.segments[0].lifetime, WithinRel(2.0, kRel));  // 1 / 0.5
  CHECK_THAT(a.segments[1].lifetime, WithinRel(10.0, kRel)); // 1 / 0.1
  CHECK_THAT(a.lifetime, WithinRel(8.0, kRel));              // 0.25*2 + 0.75*10
  CHECK_THAT(a.stage_lifetime(0), WithinRel(8.0, kRel));
  CHECK_THAT(a.retention(1), WithinRel(0.8, kRel));  // 0.25*0.5 + 0.75*0.9
  CHECK_THAT(a.retention(2), WithinRel(0.67, kRel)); // 0.25*0.25 + 0.75*0.81
  CHECK_THAT(a.occupancy(2, 1), WithinRel(0.33, kRel));
  // d = 0.8: fast 1/(1 - 0.4) = 5/3, slow 1/(1 - 0.72) = 25/7;
  // 0.25 * 5/3 + 0.75 * 25/7 = 5/12 + 75/28 = 65/21
  CHECK_THAT(a.value_infinite(0), WithinRel(65.0 / 21.0, kRel));
  // T = 3: fast 1 + 0.4 + 0.16 = 1.56, slow 1 + 0.72 + 0.5184 = 2.2384
  CHECK_THAT(a.value(0), WithinRel(0.25 * 1.56 + 0.75 * 2.2384, kRel));
  CHECK_THAT(a.absorption(1), WithinRel(1.0, kRel));
}

TEST_CASE("arrivals: each cohort on its own tenure clock, valued from its arrival",
          "[exact][population]") {
  // s = 0.5, cohort of 100 at t = 0; 'revenue' 10 in active at r = 0.25 (d = 0.8),
  // 'support' -1 in active at r = 0; net = revenue + support. T = 3.
  JourneySpec spec = churn_chain(0.5, 10.0, 0.25);
  spec.segments[0].streams.push_back(stream("support", 0.0, vec({-1.0, 0.0})));
  spec.cohort_size = 100.0;
  SECTION("10 new customers every period, start accrual") {
    spec.arrivals = {10.0};
    spec.arrivals_constant = true;
    const Analysis a = analyze(Journey(spec), 3);
    // active(t) = 100 * 0.5^t + sum_{j=1..t} 10 * 0.5^(t-j)
    const double active[] = {100.0, 60.0, 40.0, 30.0}; // 50+10; 25+5+10; 12.5+2.5+5+10
    const double churned[] = {0.0, 50.0, 80.0, 100.0}; // everybody else who has joined
    for (int t = 0; t <= 3; ++t) {
      CHECK_THAT(a.population(t, 0), WithinRel(active[t], kRel));
      CHECK_THAT(a.population(t, 1), WithinAbs(churned[t], 1e-12));
    }
    // Start accrual: calendar period c earns active(c-1) * 10 * 0.8^(c-1):
    //   1000, 60*10*0.8 = 480, 40*10*0.64 = 256
    const double revenue[] = {1000.0, 480.0, 256.0};
    const double support[] = {-100.0, -60.0, -40.0}; // -active(c-1), undiscounted
    for (int c = 1; c <= 3; ++c) {
      CHECK_THAT(a.population_value_by_period(c - 1, 0),
                 WithinRel(revenue[c - 1], kRel));
      CHECK_THAT(a.population_value_by_period(c - 1, 1),
                 WithinRel(support[c - 1], kRel));
      CHECK_THAT(a.population_value_by_period(c - 1, 2),
                 WithinRel(revenue[c - 1] + support[c - 1], kRel)); // net
      // undiscounted revenue: 10 * active(c-1) = 1000, 600, 400
      CHECK_THAT(a.population_value_by_period_nominal(c - 1, 0),
                 WithinRel(10.0 * active[c - 1], kRel));
      CHECK_THAT(a.population_value_by_period_nominal(c - 1, 2),
                 WithinRel(9.0 * active[c - 1], kRel)); // 10 - 1 per active customer
    }
    CHECK_THAT(a.population_value(0), WithinRel(1736.0, kRel)); // 1000 + 480 + 256
    CHECK_THAT(a.population_value(1), WithinRel(-200.0, kRel)); // -(100 + 60 + 40)
    CHECK_THAT(a.population_value(2), WithinRel(1536.0, kRel));
    // Per-customer figures ignore the cohort size and arrivals: 10 + 4 + 1.6
    CHECK_THAT(a.value(0), WithinRel(15.6, kRel));
  }
  SECTION("10 new customers every period, end accrual") {
    spec.arrivals = {10.0};
    spec.arrivals_constant = true;
    const Analysis a = analyze(Journey(spec), 3, Accrual::End);
    // End: calendar period c earns (active(c) - arrivals(c)) * 10 * 0.8^c:
    //   50*8 = 400, 30*6.4 = 192, 20*5.12 = 102.4
    CHECK_THAT(a.population_value_by_period(0, 0), WithinRel(400.0, kRel));
    CHECK_THAT(a.population_value_by_period(1, 0), WithinRel(192.0, kRel));
    CHECK_THAT(a.population_value_by_period(2, 0), WithinRel(102.4, kRel));
    CHECK_THAT(a.population_value(0), WithinRel(694.4, kRel));
  }
  SECTION("one batch of 20 at t = 1") {
    spec.arrivals = {20.0};
    const Analysis a = analyze(Journey(spec), 3);
    const double active[] = {100.0, 70.0, 35.0, 17.5}; // 50+20; 25+10; 12.5+5
    for (int t = 0; t <= 3; ++t)
      CHECK_THAT(a.population(t, 0), WithinRel(active[t], kRel));
    // 1000 + 70*10*0.8 + 35*10*0.64 = 1000 + 560 + 224
    CHECK_THAT(a.population_value(0), WithinRel(1784.0, kRel));
  }
  SECTION("no arrivals: the cohort scaled") {
    const Analysis a = analyze(Journey(spec), 3);
    CHECK_THAT(a.population(3, 0), WithinRel(12.5, kRel));      // 100 * 0.5^3
    CHECK_THAT(a.population_value(0), WithinRel(1560.0, kRel)); // 100 * 15.6
  }
}

TEST_CASE("time to value: first passage into a value stage", "[exact][ttv]") {
  JourneySpec spec = one_segment(kFunnel, funnel_matrix(), unit(4, 0),
                                 {stream("revenue", 0.0, vec({0.0, 0.0, 1.0, 0.0}))});
  spec.value_stages = {2};
  const Analysis a = analyze(Journey(spec), 3);
  // h(onboarding) = 0.4 / (1 - 0.5) = 0.8; h(trial) = 0.6 * 0.8 / (1 - 0.2) = 0.6
  CHECK_THAT(a.ttv_reached, WithinRel(0.6, kRel));
  // Given that it is reached, the time is the geometric stay in trial (mean 1/0.8)
  // plus the one in onboarding (mean 1/0.5): 1.25 + 2 = 3.25.
  // (Also g = (I-Q)^-1 h: g(onb) = 0.8/0.5 = 1.6, g(trial) = (0.6 + 0.6*1.6)/0.8
  // = 1.95,
  //  1.95 / 0.6 = 3.25.)
  CHECK_THAT(a.ttv_mean, WithinRel(3.25, kRel));
  // Share that has reached active by t (first passage, so those who later churn count):
  //   t=1: 0 (trial cannot jump to active); t=2: 0.6 * 0.4 = 0.24;
  //   t=3: 0.24 + (0.2*0.6 + 0.6*0.5) * 0.4 = 0.24 + 0.42 * 0.4 = 0.408
  CHECK(a.value_reached(0) == 0.0);
  CHECK(a.value_reached(1) == 0.0);
  CHECK_THAT(a.value_reached(2), WithinRel(0.24, kRel));
  CHECK_THAT(a.value_reached(3), WithinRel(0.408, kRel));

  SECTION("without value stages, time to value is not defined") {
    spec.value_stages.clear();
    const Analysis b = analyze(Journey(spec), 3);
    CHECK(std::isnan(b.ttv_reached));
    CHECK(std::isnan(b.ttv_mean));
  }
  SECTION("starting in the value stage: reached at once") {
    const Analysis b = analyze(Journey(started_at(spec, 2)), 3);
    CHECK(b.ttv_reached == 1.0);
    CHECK(b.ttv_mean == 0.0);
    CHECK(b.value_reached(0) == 1.0);
  }
}

TEST_CASE("time to value with tenure-dependent conversion", "[exact][ttv][tenure]") {
  // trial -> active (value stage): at tenure 0 half convert and half stay in trial;
  // from tenure 1, trial stays 0.8, converts 0.1, churns 0.1.
  JourneySpec spec =
      one_segment({"trial", "active", "churned"},
                  mat({{0.5, 0.5, 0.0}, {0.0, 0.9, 0.1}, {0.0, 0.0, 1.0}}), unit(3, 0),
                  {stream("revenue", 0.0, vec({0.0, 1.0, 0.0}))});
  spec.segments[0].transitions.starts.push_back(1);
  spec.segments[0].transitions.pieces.push_back(
      mat({{0.8, 0.1, 0.1}, {0.0, 0.9, 0.1}, {0.0, 0.0, 1.0}}));
  spec.value_stages = {1};
  const Analysis a = analyze(Journey(spec), 3);
  // Reached: 0.5 at once + 0.5 * 0.1 / (1 - 0.8) = 0.5 + 0.25 = 0.75
  CHECK_THAT(a.ttv_reached, WithinRel(0.75, kRel));
  // Late converters take 1 + 1/0.2 = 6 periods: (0.5 * 1 + 0.25 * 6) / 0.75 = 8/3
  CHECK_THAT(a.ttv_mean, WithinRel(8.0 / 3.0, kRel));
  // t=1: 0.5; t=2: 0.5 + 0.5*0.1 = 0.55; t=3: 0.55 + 0.5*0.8*0.1 = 0.59
  CHECK_THAT(a.value_reached(1), WithinRel(0.5, kRel));
  CHECK_THAT(a.value_reached(2), WithinRel(0.55, kRel));
  CHECK_THAT(a.value_reached(3), WithinRel(0.59, kRel));
}

TEST_CASE("the per-stage table is analyze started from that stage", "[exact][stages]") {
  // Funnel with stage values 1, 2, 10, 0 at r = 0.1 and a fee of 5 on onboarding ->
  // active.
  JourneySpec spec = one_segment(kFunnel, funnel_matrix(), unit(4, 0),
                                 {stream("revenue", 0.1, vec({1.0, 2.0, 10.0, 0.0}))});
  spec.segments[0].streams[0].transition_values = Matrix::Zero(4, 4);
  spec.segments[0].streams[0].transition_values(1, 2) = 5.0;
  const int T = 6;
  for (Accrual acc : {Accrual::Start, Accrual::End, Accrual::HalfCycle}) {
    const Analysis table = analyze(Journey(spec), T, acc);
    // Lifetimes by hand: active 1/0.1 = 10; onboarding L = 1 + 0.5 L + 0.4*10 -> 10;
    // trial L = 1 + 0.2 L + 0.6*10 -> 7/0.8 = 8.75; churned 0.
    CHECK_THAT(table.stage_lifetime(0), WithinRel(8.75, kRel));
    CHECK_THAT(table.stage_lifetime(1), WithinRel(10.0, kRel));
    CHECK_THAT(table.stage_lifetime(2), WithinRel(10.0, kRel));
    CHECK(table.stage_lifetime(3) == 0.0);
    for (Eigen::Index i = 0; i < 4; ++i) {
      const Analysis a = analyze(Journey(started_at(spec, i)), T, acc);
      INFO("accrual " << static_cast<int>(acc) << ", stage " << i);
      CHECK_THAT(table.stage_lifetime(i), WithinRel(a.lifetime, kRel));
      CHECK_THAT(table.stage_lifetime_horizon(i), WithinRel(a.lifetime_horizon, kRel));
      for (Eigen::Index c = 0; c < 2; ++c) {
        CHECK_THAT(table.stage_value(i, c), WithinRel(a.value(c), kRel));
        CHECK_THAT(table.stage_value_infinite(i, c),
                   WithinRel(a.value_infinite(c), kRel));
      }
    }
  }
}

TEST_CASE("forward value equals the backward per-stage value dotted with the start",
          "[exact][stages]") {
  const Vector start = vec({0.5, 0.25, 0.25, 0.0});
  JourneySpec spec = one_segment(kFunnel, funnel_matrix(), start,
                                 {stream("revenue", 0.1, vec({1.0, 2.0, 10.0, 0.0})),
                                  stream("cost", 0.05, vec({-0.5, -1.0, -2.0, 0.0}))});
  spec.segments[0].streams[0].transition_values = Matrix::Zero(4, 4);
  spec.segments[0].streams[0].transition_values(1, 2) = 5.0;
  // A tenure piece so that the backward recursion has to step through it.
  spec.segments[0].transitions.starts.push_back(2);
  spec.segments[0].transitions.pieces.push_back(mat({{0.1, 0.7, 0.0, 0.2},
                                                     {0.0, 0.3, 0.6, 0.1},
                                                     {0.0, 0.0, 0.95, 0.05},
                                                     {0.0, 0.0, 0.0, 1.0}}));
  const Journey j(spec);
  for (Accrual acc : {Accrual::Start, Accrual::End, Accrual::HalfCycle}) {
    const Analysis a = analyze(j, 7, acc);
    INFO("accrual " << static_cast<int>(acc));
    for (Eigen::Index c = 0; c < 3; ++c) { // revenue, cost, net
      CHECK_THAT(a.value(c), WithinRel(start.dot(a.stage_value.col(c)), kRel));
      CHECK_THAT(a.value_infinite(c),
                 WithinRel(start.dot(a.stage_value_infinite.col(c)), kRel));
    }
    CHECK_THAT(a.lifetime_horizon,
               WithinRel(start.dot(a.stage_lifetime_horizon), kRel));
    CHECK_THAT(a.lifetime, WithinRel(start.dot(a.stage_lifetime), kRel));
    CHECK_THAT(a.value(2),
               WithinRel(a.value(0) + a.value(1), kRel)); // net = 1*rev + 1*cost
  }
}

TEST_CASE("a transient stage that can never be absorbed: infinite lifetime, a warning",
          "[exact][infinite]") {
  SECTION("a stage that stays put but is not declared absorbing") {
    // active: stay 0.5, -> stuck 0.25, -> churned 0.25; stuck stays; only churned
    // absorbs.
    JourneySpec spec =
        one_segment({"active", "stuck", "churned"},
                    mat({{0.5, 0.25, 0.25}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}}),
                    unit(3, 0), {stream("revenue", 0.1, vec({1.0, 1.0, 0.0}))});
    spec.absorbing = {2};
    const Analysis a = analyze(Journey(spec), 2);
    check_pos_inf(a.lifetime);
    check_pos_inf(a.stage_lifetime(0)); // active can reach stuck
    check_pos_inf(a.stage_lifetime(1));
    CHECK(a.stage_lifetime(2) == 0.0);
    CHECK_THAT(a.lifetime_horizon, WithinRel(1.75, kRel)); // 1 + (0.5 + 0.25)
    CHECK_THAT(a.absorption(2), WithinRel(0.5, kRel));     // 0.25 / (1 - 0.5)
    REQUIRE(a.warnings.size() == 1);
    CHECK_THAT(a.warnings[0], Contains("stage 'stuck' can never be absorbed"));
    // The value is still finite at r > 0: stuck 1/(1 - 1/1.1) = 11;
    // active W = 1 + d (0.5 W + 0.25 * 11) -> W (1 - 0.5/1.1) = 1 + 2.75/1.1 = 3.5
    // -> W = 3.5 * 1.1 / 0.6 = 6.41666...
    CHECK_THAT(a.stage_value_infinite(1, 0), WithinRel(11.0, kRel));
    CHECK_THAT(a.value_infinite(0), WithinRel(3.5 * 1.1 / 0.6, kRel));
  }
  SECTION("a closed cycle b <-> c") {
    JourneySpec spec =
        one_segment({"active", "b", "c", "churned"},
                    mat({{0.5, 0.25, 0.0, 0.25},
                         {0.0, 0.0, 1.0, 0.0},
                         {0.0, 1.0, 0.0, 0.0},
                         {0.0, 0.0, 0.0, 1.0}}),
                    unit(4, 0), {stream("revenue", 0.1, vec({1.0, 1.0, 1.0, 0.0}))});
    const Journey j(spec);
    CHECK(j.absorbing() == std::vector<bool>{false, false, false, true});
    const Analysis a = analyze(j, 2);
    check_pos_inf(a.lifetime);
    REQUIRE(a.warnings.size() == 1);
    CHECK_THAT(a.warnings[0], Contains("stages 'b', 'c' can never be absorbed"));
  }
}

TEST_CASE("zero discount with a nonzero value in an absorbing stage",
          "[exact][infinite]") {
  // active v = 10 (stay 0.5), churned keeps earning 1 per period for ever.
  JourneySpec spec = one_segment({"active", "churned"}, churn_matrix(0.5), unit(2, 0),
                                 {stream("revenue", 0.0, vec({10.0, 1.0}))});
  SECTION("r = 0: infinite lifetime value, finite horizon value") {
    const Analysis a = analyze(Journey(spec), 3);
    check_pos_inf(a.value_infinite(0));
    check_pos_inf(a.stage_value_infinite(0, 0));
    check_pos_inf(a.stage_value_infinite(1, 0));
    // 10*1 + (10*0.5 + 0.5) + (10*0.25 + 0.75) = 10 + 5.5 + 3.25
    CHECK_THAT(a.value(0), WithinRel(18.75, kRel));
    CHECK_THAT(a.lifetime, WithinRel(2.0, kRel)); // the lifetime is still 1 / 0.5
  }
  SECTION("r = 0 and only the absorbing stage earns") {
    spec.segments[0].streams[0].stage_values.pieces[0] = vec({0.0, 1.0});
    check_pos_inf(analyze(Journey(spec), 3).value_infinite(0));
  }
  SECTION("r = 0.25: finite again") {
    spec.segments[0].streams[0].discount_rate = 0.25; // d = 0.8
    const Analysis a = analyze(Journey(spec), 3);
    // churned: 1 / (1 - 0.8) = 5; active: W = 10 + 0.8 (0.5 W + 0.5 * 5) -> 12 / 0.6 =
    // 20
    CHECK_THAT(a.stage_value_infinite(1, 0), WithinRel(5.0, kRel));
    CHECK_THAT(a.value_infinite(0), WithinRel(20.0, kRel));
  }
}

TEST_CASE("zero discount with a negative value in an absorbing stage is -inf",
          "[exact][infinite]") {
  // active earns 10 (stay 0.5), churned costs 1 per period for ever, r = 0.
  // From active: sum_n (P^n a)_active = sum_n (10 * 0.5^n - (1 - 0.5^n)) -> -inf:
  // active is visited finitely often (its part is 20 - ... finite), churned for ever.
  JourneySpec spec = one_segment({"active", "churned"}, churn_matrix(0.5), unit(2, 0),
                                 {stream("revenue", 0.0, vec({10.0, -1.0}))});
  const Analysis a = analyze(Journey(spec), 3);
  INFO("churned: " << a.stage_value_infinite(1, 0)
                   << ", active: " << a.value_infinite(0));
  CHECK(a.stage_value_infinite(1, 0) == -std::numeric_limits<double>::infinity());
  CHECK(a.value_infinite(0) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("negative discount rate: d > 1", "[exact][infinite]") {
  // r = -0.2 -> d = 1 / 0.8 = 1.25 exactly.
  SECTION("s d = 0.5 * 1.25 = 0.625 < 1: the series converges") {
    const Journey j(churn_chain(0.5, 10.0, -0.2));
    // Start: v / (1 - s d) = 10 / 0.375 = 80/3
    CHECK_THAT(analyze(j, 3).value_infinite(0), WithinRel(80.0 / 3.0, kRel));
    // End: v s d / (1 - s d) = 6.25 / 0.375 = 50/3
    CHECK_THAT(analyze(j, 3, Accrual::End).value_infinite(0),
               WithinRel(50.0 / 3.0, kRel));
    CHECK_THAT(analyze(j, 3).lifetime, WithinRel(2.0, kRel)); // not discounted
  }
  SECTION("s d = 0.9 * 1.25 = 1.125 > 1: it diverges") {
    const Analysis a = analyze(Journey(churn_chain(0.9, 10.0, -0.2)), 3);
    check_pos_inf(a.value_infinite(0));
    CHECK(a.stage_value_infinite(1, 0) == 0.0); // churned earns nothing
    // Horizon: 10 (1 + 1.125 + 1.125^2) = 33.90625
    CHECK_THAT(a.value(0), WithinRel(33.90625, kRel));
    CHECK_THAT(a.lifetime, WithinRel(10.0, kRel));
  }
  SECTION("s d = 0.8 * 1.25 = 1 exactly: 10 + 10 + ... diverges") {
    check_pos_inf(analyze(Journey(churn_chain(0.8, 10.0, -0.2)), 3).value_infinite(0));
  }
}

TEST_CASE(
    "negative discount rate: a stage that cannot reach the divergent one stays finite",
    "[exact][infinite]") {
  // Two unrelated customer types in one chain: 'slow' stays 0.9 (s d = 1.125,
  // diverges), 'fast' stays 0.1 (s d = 0.125, converges); both earn 1 and churn. d
  // = 1.25. From fast: sum_n (0.1 * 1.25)^n = 1 / (1 - 0.125) = 8/7; it never reaches
  // slow.
  JourneySpec spec =
      one_segment({"slow", "fast", "churned"},
                  mat({{0.9, 0.0, 0.1}, {0.0, 0.1, 0.9}, {0.0, 0.0, 1.0}}), unit(3, 1),
                  {stream("revenue", -0.2, vec({1.0, 1.0, 0.0}))});
  const Analysis a = analyze(Journey(spec), 3);
  check_pos_inf(a.stage_value_infinite(0, 0));
  CHECK_THAT(a.stage_value_infinite(1, 0), WithinRel(8.0 / 7.0, kRel));
  CHECK_THAT(a.value_infinite(0), WithinRel(8.0 / 7.0, kRel));
}
