// Specification of the Markov-chain analytics (core/include/journeysim/chain.hpp),
// against closed forms worked by hand in the comments.
#include "helpers.hpp"
#include "journeysim/chain.hpp"
#include "journeysim/exact.hpp"
#include "journeysim/model.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using namespace journeysim;
using Catch::Matchers::WithinRel;
using journeysim::testing::mat;
using journeysim::testing::vec;

constexpr double kRel = 1e-12;

Journey journey_of(std::vector<std::string> stages, const Matrix &P) {
  JourneySpec s;
  s.stages = std::move(stages);
  Segment seg;
  seg.name = "all";
  seg.transitions = {{0}, {P}};
  seg.start = Vector::Unit(P.rows(), 0);
  s.segments = {seg};
  return Journey(std::move(s));
}

// Gambler's ruin on 0..4 with fair steps: from i, P(reach 4 before 0) = i / 4
// and the expected duration is i (4 - i); expected visits to j from i are
// N_ij = 2 min(i, j) (4 - max(i, j)) / 4.
Journey fair_ruin() {
  Matrix P = Matrix::Zero(5, 5);
  P(0, 0) = P(4, 4) = 1.0;
  for (Eigen::Index i = 1; i <= 3; ++i) P(i, i + 1) = P(i, i - 1) = 0.5;
  return journey_of({"0", "1", "2", "3", "4"}, P);
}

} // namespace

TEST_CASE("first passage of the fair gambler's ruin", "[chain]") {
  const Journey j = fair_ruin();
  std::vector<bool> target(5, false), avoid(5, false);
  target[4] = true;
  avoid[0] = true;
  const FirstPassage fp = first_passage(j, 0, target, avoid);
  for (Eigen::Index i = 1; i <= 3; ++i) {
    CHECK_THAT(fp.probability(i), WithinRel(static_cast<double>(i) / 4.0, kRel));
    CHECK_THAT(fp.missed(i), WithinRel(1.0 - static_cast<double>(i) / 4.0, kRel));
  }
  CHECK(fp.probability(0) == 0.0);
  CHECK(fp.missed(0) == 1.0);
  CHECK(fp.probability(4) == 1.0);
  CHECK(fp.missed(4) == 0.0);
  CHECK(fp.mean_time(4) == 0.0);
  CHECK(std::isnan(fp.mean_time(0)));
  // Conditional on winning from 2: (16 - 4) / 3 = 4 periods (a classic result,
  // E[T | win] = (N^2 - i^2) / 3 for the fair walk on 0..N).
  CHECK_THAT(fp.mean_time(2), WithinRel(4.0, kRel));
}

TEST_CASE("expected visits of the fair gambler's ruin", "[chain]") {
  const Matrix N = expected_visits(fair_ruin(), 0);
  for (Eigen::Index i = 1; i <= 3; ++i)
    for (Eigen::Index k = 1; k <= 3; ++k) {
      const double expect =
          2.0 * static_cast<double>(std::min(i, k) * (4 - std::max(i, k))) / 4.0;
      CHECK_THAT(N(i, k), WithinRel(expect, kRel));
    }
  CHECK(N.col(0).isZero());
  CHECK(N.col(4).isZero());
  CHECK_THAT(N.row(2).sum(), WithinRel(4.0, kRel)); // duration i (4 - i)
}

TEST_CASE("two-stage flip-flop: classes, period, stationary, returns", "[chain]") {
  // a -> b with p, b -> a with q: pi = (q, p) / (p + q); mean return to a is
  // (p + q) / q; period 1 unless p = q = 1 (period 2).
  const double p = 0.3, q = 0.1;
  const Journey j = journey_of({"a", "b"}, mat({{1 - p, p}, {q, 1 - q}}));
  const auto classes = communicating_classes(j, 0);
  REQUIRE(classes.size() == 1);
  CHECK(classes[0].recurrent);
  CHECK(classes[0].period == 1);
  const Matrix pi = stationary_distributions(j, 0);
  REQUIRE(pi.rows() == 1);
  CHECK_THAT(pi(0, 0), WithinRel(q / (p + q), kRel));
  CHECK_THAT(pi(0, 1), WithinRel(p / (p + q), kRel));
  const FirstReturn r = first_returns(j, 0);
  CHECK_THAT(r.probability(0), WithinRel(1.0, kRel));
  CHECK(r.missed(0) == 0.0);
  CHECK_THAT(r.mean_time(0), WithinRel((p + q) / q, kRel));
  CHECK_THAT(r.mean_time(1), WithinRel((p + q) / p, kRel));

  const Journey flip = journey_of({"a", "b"}, mat({{0, 1}, {1, 0}}));
  CHECK(communicating_classes(flip, 0)[0].period == 2);
}

TEST_CASE("a stationary share of 1e-300 keeps its relative precision", "[chain]") {
  // Birth-death chain: pi_b / pi_a = 1e-150 / 1 per step, twice.
  const double e = 1e-150;
  const Journey j =
      journey_of({"a", "b", "c"}, mat({{1 - e, e, 0}, {0.5, 0, 0.5}, {0, 1, 0}}));
  const Matrix pi = stationary_distributions(j, 0);
  // Balance: pi_a e = pi_b 0.5, pi_b 0.5 = pi_c 1: pi_b = 2e pi_a, pi_c = e pi_a.
  CHECK_THAT(pi(0, 1) / pi(0, 0), WithinRel(2 * e, kRel));
  CHECK_THAT(pi(0, 2) / pi(0, 0), WithinRel(e, kRel));
}

TEST_CASE("chain analytics refuse a bad segment or flags", "[chain]") {
  const Journey j = fair_ruin();
  CHECK_THROWS_AS(communicating_classes(j, 3), std::out_of_range);
  CHECK_THROWS_AS(first_passage(j, 0, std::vector<bool>(2), std::vector<bool>(5)),
                  std::invalid_argument);
}

TEST_CASE("first visits to any of several targets count a customer once", "[chain]") {
  // a -> b (0.5), b -> c (0.25), c absorbing; start in a. Targets: b within
  // tenures [2, 4) and c within [0, 4).
  //   x1 = (.5, .5, 0), x2 = (.25, .625, .125): at tau 2 everyone in b or c
  //   meets a target for the first time (.75); at tau 3 those who were still in
  //   a move to b (.125). The sum, .875, is the chance of meeting either: not
  //   the .75 + .125 + (b's and c's separate first visits) of a sum over targets.
  const Journey j =
      journey_of({"a", "b", "c"}, mat({{0.5, 0.5, 0.0}, {0.0, 0.75, 0.25}, {0, 0, 1}}));
  const Vector f = first_visits_any(j, 0, {{1}, {2}}, {2, 0}, {4, 4}, 4);
  REQUIRE(f.size() == 4);
  CHECK(f(0) == 0.0);
  CHECK(f(1) == 0.0);
  CHECK_THAT(f(2), WithinRel(0.75, kRel));
  CHECK_THAT(f(3), WithinRel(0.125, kRel));
  // One target alone is first_visits.
  const Vector one = first_visits_any(j, 0, {{2}}, {0}, {4}, 4);
  const Vector ref = first_visits(j, 0, {2}, 0, 4);
  for (Eigen::Index t = 0; t < 4; ++t)
    CHECK_THAT(one(t),
               WithinRel(ref(t), kRel) || Catch::Matchers::WithinAbs(0.0, 1e-300));
}
