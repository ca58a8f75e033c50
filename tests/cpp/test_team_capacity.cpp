// Team capacity in the period-by-period engine: a team's budget shared by its
// rules, each customer counted once per period, the rule's own capacity inside it.
#include <catch2/catch.hpp>

#include "journeysim/simulate.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>

using namespace journeysim;

namespace {

// new -> active (0.5) or churned (0.1); active -> churned (0.1); arrivals 40.
Journey two_transient() {
  JourneySpec spec;
  spec.stages = {"new", "active", "churned"};
  Segment seg;
  seg.name = "all";
  Matrix P(3, 3);
  P << 0.4, 0.5, 0.1, 0.0, 0.9, 0.1, 0.0, 0.0, 1.0;
  seg.transitions.starts = {0};
  seg.transitions.pieces = {P};
  ValueStream vs;
  vs.name = "revenue";
  vs.stage_values.starts = {0};
  vs.stage_values.pieces = {Vector::Constant(3, 0.0)};
  vs.stage_values.pieces[0](1) = 10.0;
  seg.streams = {vs};
  seg.start = Vector::Zero(3);
  seg.start(0) = 0.5;
  seg.start(1) = 0.5;
  spec.segments = {seg, seg};
  spec.segments[0].share = 1.0;
  spec.segments[1].name = "untreated";
  spec.segments[1].share = 0.0;
  // The untreated move on to churn more: a denial shows in the numbers.
  spec.segments[1].transitions.pieces[0] << 0.4, 0.3, 0.3, 0.0, 0.7, 0.3, 0.0, 0.0, 1.0;
  spec.arrivals = {40.0};
  spec.arrivals_constant = true;
  return Journey(spec);
}

CapacityRule at(int stage, std::optional<std::int64_t> capacity, int team,
                std::optional<std::int64_t> team_capacity) {
  CapacityRule r;
  r.capacity = capacity;
  r.rank = {std::nullopt, std::nullopt, std::nullopt};
  r.rank[static_cast<std::size_t>(stage)] = 0;
  r.touched = {true, false};
  r.fallback = {1, 1};
  r.team = team;
  r.team_capacity = team_capacity;
  return r;
}

SimulationOptions options(int threads) {
  SimulationOptions o;
  o.customers = 400;
  o.periods = 10;
  o.seed = 11;
  o.threads = threads;
  o.replications = 2;
  o.record_events = true;
  return o;
}

} // namespace

TEST_CASE("a team's budget is shared by its rules, in their order",
          "[simulate][capacity]") {
  const Journey j = two_transient();
  const std::vector<CapacityRule> rules = {at(0, std::nullopt, 0, 50),
                                           at(1, 30, 0, 50)};
  const auto r = simulate(j, options(1), nullptr, rules);
  const std::size_t T = 10;
  REQUIRE(r.team_handled.size() == 2 * T);
  bool full = false;
  for (std::size_t q = 0; q < 2 * T; ++q) {
    const auto e0 = r.capacity_eligible[q * 2], e1 = r.capacity_eligible[q * 2 + 1];
    const auto t0 = r.capacity_treated[q * 2], t1 = r.capacity_treated[q * 2 + 1];
    // The first rule takes what it meets up to the budget, the second (its own
    // capacity 30) what is left: new and active are different customers.
    CHECK(t0 == std::min<std::int64_t>(e0, 50));
    CHECK(t1 == std::min<std::int64_t>({e1, 30, 50 - t0}));
    CHECK(r.team_handled[q] == t0 + t1);
    CHECK(r.team_handled[q] <= 50);
    CHECK(r.team_eligible[q] == e0 + e1);
    full = full || r.team_handled[q] == 50;
  }
  CHECK(full); // the budget binds in some period
}

TEST_CASE("two rules of a team on the same customers count each customer once",
          "[simulate][capacity]") {
  const Journey j = two_transient();
  const std::vector<CapacityRule> rules = {at(1, std::nullopt, 0, 25),
                                           at(1, std::nullopt, 0, 25)};
  const auto r = simulate(j, options(1), nullptr, rules);
  for (std::size_t q = 0; q < 20; ++q) {
    CHECK(r.capacity_treated[q * 2] ==
          std::min<std::int64_t>(r.capacity_eligible[q * 2], 25));
    CHECK(r.capacity_treated[q * 2 + 1] == r.capacity_treated[q * 2]);
    CHECK(r.team_handled[q] == r.capacity_treated[q * 2]);
    CHECK(r.team_eligible[q] == r.capacity_eligible[q * 2]);
  }
}

TEST_CASE("a team budget large enough changes nothing", "[simulate][capacity]") {
  const Journey j = two_transient();
  const auto big = std::numeric_limits<std::int64_t>::max();
  const auto a =
      simulate(j, options(1), nullptr, {at(0, 20, -1, {}), at(1, 30, -1, {})});
  const auto b =
      simulate(j, options(1), nullptr, {at(0, 20, 0, big), at(1, 30, 0, big)});
  CHECK(a.occupancy == b.occupancy);
  CHECK(a.value_by_period == b.value_by_period);
  CHECK(a.capacity_treated == b.capacity_treated);
  CHECK(a.event_customer == b.event_customer);
  CHECK(a.team_handled.empty());
  CHECK(b.team_handled.size() == 20);
}

TEST_CASE("team capacity: same numbers for any thread count, moves counted",
          "[simulate][capacity]") {
  const Journey j = two_transient();
  const std::vector<CapacityRule> rules = {at(0, std::nullopt, 0, 40),
                                           at(1, std::nullopt, 1, 15)};
  const auto a = simulate(j, options(1), nullptr, rules);
  for (int threads : {2, 4}) {
    const auto b = simulate(j, options(threads), nullptr, rules);
    CHECK(a.occupancy == b.occupancy);
    CHECK(a.team_handled == b.team_handled);
    CHECK(a.capacity_moves == b.capacity_moves);
  }
  // The first replication's moves are its event log's rows.
  REQUIRE(a.capacity_moves.size() == 2 * 9);
  std::int64_t moves = 0;
  for (std::size_t k = 0; k < 9; ++k) moves += a.capacity_moves[k];
  CHECK(moves == static_cast<std::int64_t>(a.event_customer.size()));
}

TEST_CASE("bad team rules are refused", "[simulate][capacity]") {
  const Journey j = two_transient();
  CHECK_THROWS_AS(simulate(j, options(1), nullptr, {at(0, {}, 0, 5), at(1, {}, 0, 6)}),
                  std::invalid_argument);
  CHECK_THROWS_AS(simulate(j, options(1), nullptr, {at(0, {}, 0, -1)}),
                  std::invalid_argument);
  CHECK_THROWS_AS(simulate(j, options(1), nullptr, {at(0, {}, -1, 5)}),
                  std::invalid_argument);
  CHECK_THROWS_AS(simulate(j, options(1), nullptr, {at(0, {}, 3, 5)}),
                  std::invalid_argument);
}

TEST_CASE("the streaming capacity engine: many chunks, any thread count",
          "[simulate][capacity]") {
  // 30,000 customers plus arrivals: four chunks of the parallel pass.
  const Journey j = two_transient();
  SimulationOptions o = options(1);
  o.customers = 30000;
  o.periods = 12;
  const std::vector<CapacityRule> rules = {at(0, 500, -1, {}), at(1, 800, 0, 1000)};
  const auto a = simulate(j, o, nullptr, rules);
  for (int threads : {2, 4}) {
    o.threads = threads;
    const auto b = simulate(j, o, nullptr, rules);
    CHECK(a.occupancy == b.occupancy);
    CHECK(a.value_by_period == b.value_by_period); // bit for bit
    CHECK(a.cohort_value == b.cohort_value);
    CHECK(a.customer_value == b.customer_value);
    CHECK(a.event_customer == b.event_customer);
    CHECK(a.event_period == b.event_period);
    CHECK(a.event_to == b.event_to);
    CHECK(a.capacity_treated == b.capacity_treated);
    CHECK(a.team_handled == b.team_handled);
  }
  bool binds = false;
  for (std::size_t q = 0; q < 2 * 12; ++q) {
    const auto e0 = a.capacity_eligible[q * 2], e1 = a.capacity_eligible[q * 2 + 1];
    CHECK(a.capacity_treated[q * 2] == std::min<std::int64_t>(e0, 500));
    CHECK(a.capacity_treated[q * 2 + 1] == std::min<std::int64_t>(e1, 800));
    CHECK(a.team_handled[q] <= 1000);
    binds = binds || e0 > 500;
  }
  CHECK(binds);
  // Everyone is somewhere at every t: occupancy adds up to who has joined.
  std::int64_t joined = o.customers;
  for (std::size_t t = 0; t <= 12; ++t) {
    if (t > 0) joined += a.arrivals[t - 1];
    std::int64_t n = 0;
    for (std::size_t s = 0; s < 3; ++s) n += a.occupancy[t * 3 + s];
    CHECK(n == joined);
  }
}
