// Regression tests for the bugs the fuzzers (tests/fuzz) and the sanitizers
// found: each case is the smallest input that crashed, hung or ran into
// undefined behaviour, and the behaviour the core now has instead.
#include "helpers.hpp"
#include "journeysim/exact.hpp"
#include "journeysim/fit.hpp"
#include "journeysim/model.hpp"
#include "journeysim/simulate.hpp"

#include <catch2/catch.hpp>

#include <climits>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

namespace {

using namespace journeysim;
using Catch::Contains;
using journeysim::testing::mat;
using journeysim::testing::vec;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

TransitionCounts count(const std::vector<std::int64_t> &customer,
                       const std::vector<std::int64_t> &period,
                       const std::vector<std::int32_t> &stage, bool carry_forward,
                       std::int64_t end_period) {
  return count_transitions(customer.data(), period.data(), stage.data(), nullptr,
                           customer.size(), 2, 1, {0}, {false, true}, carry_forward,
                           end_period);
}

// active -> churned with 0.25, revenue 10 in active; transitions by tenure.
JourneySpec two_stage(std::vector<int> starts) {
  JourneySpec s;
  s.stages = {"active", "churned"};
  Segment seg;
  seg.name = "all";
  for (std::size_t p = 0; p < starts.size(); ++p)
    seg.transitions.pieces.push_back(mat({{0.75, 0.25}, {0.0, 1.0}}));
  seg.transitions.starts = std::move(starts);
  seg.start = vec({1.0, 0.0});
  ValueStream vs;
  vs.name = "revenue";
  vs.discount_rate = 0.01;
  vs.stage_values = {{0}, {vec({10.0, 0.0})}};
  seg.streams = {vs};
  s.segments = {seg};
  return s;
}

} // namespace

// fuzz_count_transitions: two customers censored at int64 max - 7 made the
// stay counts overflow (signed overflow, UBSan), and periods at both ends of
// int64 overflowed the gap between them.
TEST_CASE("regression: count_transitions refuses counts and gaps that overflow int64",
          "[fit][regression]") {
  // Each customer stays ~2^63 periods: the second one overflows the count.
  CHECK_THROWS_WITH(count({0, 1}, {0, 0}, {0, 0}, true, kMax - 7),
                    Contains("overflow a 64-bit integer"));
  // Periods int64 min + 1 and int64 max: the gap does not fit in an int64.
  CHECK_THROWS_WITH(count({0, 0}, {kMin + 1, kMax}, {0, 0}, true, kMax),
                    Contains("too far apart"));
  CHECK_THROWS_AS(count({0, 0}, {kMin + 1, kMax}, {0, 0}, false, 0),
                  std::invalid_argument);
  // Censoring from int64 min to a positive end: the span does not fit either.
  CHECK_THROWS_WITH(count({0}, {kMin}, {0}, true, 1), Contains("too far apart"));
  // Near the top of int64 with room to spare, everything still counts: stays at
  // tenures 0 and 1, then the move to churned at tenure 2.
  const auto r = count({0, 0}, {kMax - 5, kMax - 2}, {0, 1}, true, kMax);
  CHECK(r.counts[0] == 2);
  CHECK(r.counts[1] == 1);
  CHECK(r.starts[0] == 1);
  // One customer alone may span nearly all of int64.
  const auto wide = count({0}, {0}, {0}, true, kMax - 7);
  CHECK(wide.counts[0] == kMax - 7);
}

// fuzz_journey: analyze(periods = 0) and sensitivities(periods = 0) took column
// sums and columns of matrices with no rows, which offsets Eigen's null data
// pointer (UBSan: "applying non-zero offset to null pointer").
TEST_CASE("regression: analyze and sensitivities over zero periods",
          "[exact][regression]") {
  const Journey j(two_stage({0}));
  const Analysis a = analyze(j, 0);
  REQUIRE(a.occupancy.rows() == 1);
  CHECK(a.value_by_period.rows() == 0);
  REQUIRE(a.value.size() == 2); // revenue, net
  CHECK(a.value(0) == 0.0);
  CHECK(a.value(1) == 0.0);
  REQUIRE(a.population_value.size() == 2);
  CHECK(a.population_value(0) == 0.0);
  CHECK(a.retention(0) == 1.0);
  CHECK(a.lifetime == Approx(4.0)); // the whole lifetime does not depend on T
  for (auto metric :
       {Sensitivity::Value, Sensitivity::Lifetime, Sensitivity::Retention}) {
    const Matrix D = sensitivities(j, 0, Accrual::Start, metric, {0, 1});
    REQUIRE(D.rows() == 2);
    CHECK(D.isZero(0.0)); // nothing happens within zero periods
  }
}

// fuzz_journey: a tenure piece starting at 14287431 (or INT_MAX) was accepted,
// and the exact analytics step back through every period up to it: a hang, and
// in sensitivities() the period count + 1 overflowed int. Starts are now
// limited to 1,000,000 periods, the Python layer's limit.
TEST_CASE("regression: a tenure piece beyond 1,000,000 periods is refused",
          "[model][regression]") {
  CHECK_THROWS_WITH(Journey(two_stage({0, INT_MAX})),
                    Contains("a tenure piece starts at 2147483647, beyond 1000000"));
  CHECK_THROWS_AS(Journey(two_stage({0, 14287431})), std::invalid_argument);
  JourneySpec values = two_stage({0});
  values.segments[0].streams[0].stage_values = {{0, 1000001},
                                                {vec({1.0, 0.0}), vec({2.0, 0.0})}};
  CHECK_THROWS_WITH(Journey(values), Contains("value stream 'revenue'"));
  // The limit itself is fine.
  const Journey j(two_stage({0, kMaxTenureStart}));
  CHECK(j.stationary_from() == kMaxTenureStart);
}

// fuzz_journey: the capacity engine took `&cv[i * K]` of the per-customer value
// array, which is empty for a journey without value streams (UBSan: reference
// binding to null pointer).
TEST_CASE("regression: capacity engine on a journey without value streams",
          "[simulate][regression]") {
  JourneySpec spec = two_stage({0});
  spec.segments[0].streams.clear();
  const Journey j(spec);
  CapacityRule rule;
  rule.capacity = 5;
  rule.rank = {0, std::nullopt};
  rule.touched = {true};
  rule.fallback = {0};
  SimulationOptions o;
  o.customers = 50;
  o.periods = 4;
  o.seed = 3;
  o.threads = 1;
  const SimulationResult r = simulate(j, o, nullptr, {rule});
  CHECK(r.streams == 0);
  CHECK(r.customer_value.empty());
  for (int t = 0; t <= 4; ++t)
    CHECK(r.occupancy[static_cast<std::size_t>(2 * t)] +
              r.occupancy[static_cast<std::size_t>(2 * t + 1)] ==
          50);
  CHECK(r.capacity_eligible[0] == 50);
  CHECK(r.capacity_treated[0] == 5);
}

// fuzz_journey: a row that stays put with probability 1 and leaks a subnormal
// 1.7e-316 made I - Q singular and its condition number infinite; the warning
// about it converted floor(log10(inf)) to int (UBSan: float-cast-overflow).
// The conversion is now clamped first; with the overflow checks of analyze()
// this input is now refused before any warning is written.
TEST_CASE("regression: a stage that stays put but leaks a subnormal probability",
          "[exact][regression]") {
  JourneySpec spec;
  spec.stages = {"a", "b", "c"};
  spec.normalize = true;
  Segment seg;
  seg.name = "all";
  const Matrix I = Matrix::Identity(3, 3);
  Matrix leak = I;
  leak(1, 0) = 1.6578092610981836e-316;
  seg.transitions = {{0, 1, 2}, {I, I, leak}};
  seg.start = vec({4.0 / 12.0, 1.0 / 12.0, 7.0 / 12.0});
  ValueStream vs;
  vs.name = "revenue";
  vs.stage_values = {{0}, {vec({0.0, 1050.0, 1180.0})}};
  SECTION("values in the stages that stay put") {}
  SECTION("no values") { vs.stage_values.pieces[0].setZero(); }
  seg.streams = {vs};
  spec.segments = {seg};
  const Journey j(spec);
  // A result with a warning, or a refusal: either is fine, undefined behaviour
  // (caught under the sanitizers, `make cpp-sanitize`) is not.
  try {
    const Analysis a = analyze(j, 0);
    CHECK(a.occupancy.rows() == 1);
    for (const auto &w : a.condition_warnings)
      CHECK_THAT(w, Contains("ill-conditioned"));
  } catch (const std::invalid_argument &e) {
    CHECK_THAT(e.what(), Contains("overflow"));
  }
}

// fuzz_journey: with normalize, rows (or shares, or starts) of finite numbers
// whose sum overflows to inf were "rescaled" by dividing by inf: all zeros, a
// journey whose occupancy no longer sums to 1 (the fuzzer's consistency check).
TEST_CASE("regression: normalize refuses sums that overflow instead of zeroing them",
          "[model][regression]") {
  constexpr double kBig = 1e308;
  JourneySpec rows = two_stage({0});
  rows.normalize = true;
  rows.segments[0].transitions.pieces[0] = mat({{kBig, kBig}, {0.0, 1.0}});
  CHECK_THROWS_WITH(Journey(rows), Contains("row 'active' sums to inf, not 1"));
  JourneySpec starts = two_stage({0});
  starts.normalize = true;
  starts.segments[0].start = vec({kBig, kBig});
  CHECK_THROWS_WITH(Journey(starts), Contains("start distribution sums to inf"));
  JourneySpec shares = two_stage({0});
  shares.normalize = true;
  shares.segments.push_back(shares.segments[0]);
  shares.segments[0].share = kBig;
  shares.segments[1].name = "other";
  shares.segments[1].share = kBig;
  CHECK_THROWS_WITH(Journey(shares), Contains("segment shares sum to inf, not 1"));
  // Large but finite sums still rescale.
  rows.segments[0].transitions.pieces[0] = mat({{1e300, 3e300}, {0.0, 1.0}});
  const Journey j(rows);
  CHECK(j.segments()[0].transitions.pieces[0](0, 0) == Approx(0.25));
  CHECK(j.segments()[0].transitions.pieces[0](0, 1) == Approx(0.75));
}

// fuzz_journey: a tolerance of 1 let segment shares sum to 0.1 (or a row to 0)
// without rescaling, and the engines, which rely on sums of 1, lost customers.
// The tolerance is now at most kMaxTolerance (the Python layer passes 1e-9).
TEST_CASE("regression: a tolerance too large to keep sums of probabilities at 1",
          "[model][regression]") {
  JourneySpec s = two_stage({0});
  s.tolerance = 1.0;
  CHECK_THROWS_WITH(Journey(s), Contains("tolerance 1 is too large"));
  s.tolerance = kMaxTolerance;
  CHECK_NOTHROW(Journey(s));
}

// fuzz_journey (the aggregate engine's share of the same input): a row that
// sums to 1 within the tolerance, but not exactly, split its last stage with
// a binomial of p / left < 1, and customers vanished from the occupancy.
TEST_CASE("regression: the aggregate engine keeps every customer of a row summing "
          "to 1 - 1e-6",
          "[simulate][regression]") {
  JourneySpec s = two_stage({0});
  s.tolerance = kMaxTolerance;
  s.segments[0].transitions.pieces[0] = mat({{0.5, 0.5 - 0.99e-6}, {0.0, 1.0}});
  s.segments[0].share = 1.0 - 0.99e-6; // shares are split the same way
  const Journey j(s);
  SimulationOptions o;
  o.customers = 100'000'000; // ~100 lost per split before the fix
  o.periods = 20;
  o.seed = 11;
  o.replications = 3;
  o.threads = 1;
  o.method = Method::Aggregate;
  const SimulationResult r = simulate(j, o);
  for (std::size_t t = 0; t < r.occupancy.size(); t += 2)
    CHECK(r.occupancy[t] + r.occupancy[t + 1] == o.customers);
}
