// Monte Carlo engine: reproducibility across threads, agreement of the
// period-by-period (capacity) engine with the customer-by-customer one, and
// the first-visit probabilities of the exact side.
#include <catch2/catch.hpp>

#include "journeysim/exact.hpp"
#include "journeysim/fit.hpp"
#include "journeysim/simulate.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

using namespace journeysim;

namespace {

// active -> churned with p = 0.2 (and to "won" with 0.1), revenue 10 in active.
Journey three_stage() {
  JourneySpec spec;
  spec.stages = {"active", "won", "churned"};
  Segment seg;
  seg.name = "all";
  Matrix P(3, 3);
  P << 0.7, 0.1, 0.2, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0;
  seg.transitions.starts = {0};
  seg.transitions.pieces = {P};
  ValueStream vs;
  vs.name = "revenue";
  vs.discount_rate = 0.01;
  vs.stage_values.starts = {0};
  vs.stage_values.pieces = {Vector::Constant(3, 0.0)};
  vs.stage_values.pieces[0](0) = 10.0;
  seg.streams = {vs};
  seg.start = Vector::Zero(3);
  seg.start(0) = 1.0;
  spec.segments = {seg};
  spec.arrivals = {3.0};
  spec.arrivals_constant = true;
  return Journey(spec);
}

// Customers who never leave: active <-> won, churned unreachable; every
// customer-period is a real step of the per-period engine.
Journey cycling() {
  JourneySpec spec;
  spec.stages = {"active", "won", "churned"};
  Segment seg;
  seg.name = "all";
  Matrix P(3, 3);
  P << 0.7, 0.3, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 1.0;
  seg.transitions.starts = {0};
  seg.transitions.pieces = {P};
  ValueStream vs;
  vs.name = "revenue";
  vs.stage_values.starts = {0};
  vs.stage_values.pieces = {Vector::Constant(3, 1.0)};
  seg.streams = {vs};
  seg.start = Vector::Zero(3);
  seg.start(0) = 1.0;
  spec.segments = {seg};
  return Journey(spec);
}

// Runs the simulation in a thread, cancels it once a block has reported its
// steps (or it has ended), and returns what it threw.
std::exception_ptr cancel_after_first_report(const Journey &j,
                                             const SimulationOptions &o,
                                             SimulationControl &control) {
  std::exception_ptr error;
  std::atomic<bool> finished{false};
  std::thread run([&] {
    try {
      simulate(j, o, &control);
    } catch (...) {
      error = std::current_exception();
    }
    finished = true;
  });
  while (control.steps_done.load() == 0 && !finished.load()) std::this_thread::yield();
  control.cancel = true;
  run.join();
  return error;
}

SimulationOptions options(int threads) {
  SimulationOptions o;
  o.customers = 10000;
  o.periods = 12;
  o.seed = 42;
  o.threads = threads;
  return o;
}

} // namespace

TEST_CASE("the same seed gives identical results for 1, 2 and 4 threads") {
  const Journey j = three_stage();
  const auto a = simulate(j, options(1));
  for (int threads : {2, 4}) {
    const auto b = simulate(j, options(threads));
    CHECK(a.occupancy == b.occupancy);
    CHECK(a.value_by_period == b.value_by_period);
    CHECK(a.customer_value == b.customer_value);
    CHECK(a.lifetime == b.lifetime);
  }
}

TEST_CASE("with room for everyone the capacity engine gives the same process") {
  // Occupancy within 4 standard errors of the customer-by-customer engine's at
  // every t (a binomial share each), and in fact equal: the same draws.
  const Journey j = three_stage();
  CapacityRule unlimited;
  unlimited.capacity = 1000000000;
  unlimited.rank = {0, std::nullopt, std::nullopt};
  unlimited.touched = {true};
  unlimited.fallback = {0};
  auto period = options(1); // the capacity engine uses the per-period engine's draws
  period.engine = Engine::Period;
  const auto a = simulate(j, period);
  const auto b = simulate(j, options(1), nullptr, {unlimited});
  REQUIRE(a.cohort_occupancy.size() == b.cohort_occupancy.size());
  const double n = 10000.0;
  for (std::size_t q = 0; q < a.cohort_occupancy.size(); ++q) {
    const double p1 = static_cast<double>(a.cohort_occupancy[q]) / n;
    const double p2 = static_cast<double>(b.cohort_occupancy[q]) / n;
    const double se = std::sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n) + 1e-12;
    CHECK(std::abs(p1 - p2) <= 4.0 * se);
  }
  // The same draws, read by number (segment, start, one per tenure): with room
  // for everyone the two engines move every customer alike.
  CHECK(a.occupancy == b.occupancy);
  // Everyone active meets the rule each period: 10000 at t = 0.
  CHECK(b.capacity_eligible[0] == 10000);
  CHECK(b.capacity_treated[0] == 10000);
}

TEST_CASE("a capacity rule applies within its tenure and calendar windows") {
  const Journey j = three_stage();
  CapacityRule rule;
  rule.capacity = 1000000000;
  rule.rank = {0, std::nullopt, std::nullopt};
  rule.touched = {true};
  rule.fallback = {0};
  SimulationOptions o = options(1);
  o.customers = 1000;
  o.periods = 6;
  SECTION("tenure [1, 3): the starting cohort meets it in periods 2 and 3 only") {
    rule.window = {1, 3};
    JourneySpec spec = j.spec(); // without arrivals, whose tenure differs
    spec.arrivals.clear();
    spec.arrivals_constant = false;
    const auto r = simulate(Journey(spec), o, nullptr, {rule});
    CHECK(r.capacity_eligible[0] == 0);
    CHECK(r.capacity_eligible[1] > 0);
    CHECK(r.capacity_eligible[2] > 0);
    for (std::size_t t = 3; t < 6; ++t) CHECK(r.capacity_eligible[t] == 0);
  }
  SECTION("calendar [2, open): nobody before period 3, everyone active after") {
    rule.calendar = {2, std::nullopt};
    const auto r = simulate(j, o, nullptr, {rule});
    CHECK(r.capacity_eligible[0] == 0);
    CHECK(r.capacity_eligible[1] == 0);
    for (std::size_t t = 2; t < 6; ++t) CHECK(r.capacity_eligible[t] > 0);
  }
  SECTION("a reversed window is refused") {
    rule.window = {3, 1};
    CHECK_THROWS_AS(simulate(j, o, nullptr, {rule}), std::invalid_argument);
    rule.window = {};
    rule.calendar = {-1, std::nullopt};
    CHECK_THROWS_AS(simulate(j, o, nullptr, {rule}), std::invalid_argument);
  }
}

TEST_CASE("first visits: the first time in a stage within a window") {
  // From active: in active at tenure tau with probability 0.7^tau, so the first
  // visit within [2, 5) is at 2 with 0.49 (nobody leaves and comes back).
  const Journey j = three_stage();
  const Vector f = first_visits(j, 0, {0}, 2, 5);
  REQUIRE(f.size() == 3);
  CHECK(f(0) == Approx(0.49));
  CHECK(f(1) == Approx(0.0));
  CHECK(f(2) == Approx(0.0));
  // First reaching "won" (absorbing): 0.1 * 0.7^(tau-1) at tau >= 1.
  const Vector w = first_visits(j, 0, {1}, 0, 4);
  CHECK(w(0) == Approx(0.0));
  CHECK(w(1) == Approx(0.1));
  CHECK(w(2) == Approx(0.07)); // those already there were counted at 1
  CHECK(w(3) == Approx(0.049));
}

TEST_CASE("transition counts from stage changes, by hand") {
  // Customer 0: a at 0, b at 2, c (absorbing) at 3; customer 1: a at 0, censored
  // at 4. Stays are carried forward: a->a once, a->b, b->c; then a->a four times.
  const std::vector<std::int64_t> customer{0, 0, 0, 1}, period{0, 2, 3, 0};
  const std::vector<std::int32_t> stage{0, 1, 2, 0};
  const auto r =
      count_transitions(customer.data(), period.data(), stage.data(), nullptr, 4, 3, 1,
                        {0}, {false, false, true}, true, 4);
  CHECK(r.counts[0 * 3 + 0] == 5);
  CHECK(r.counts[0 * 3 + 1] == 1);
  CHECK(r.counts[1 * 3 + 2] == 1);
  CHECK(r.starts[0] == 2);
  // By tenure piece from 2 on: customer 1's stays at tenures 2 and 3 move there.
  const auto p =
      count_transitions(customer.data(), period.data(), stage.data(), nullptr, 4, 3, 1,
                        {0, 2}, {false, false, true}, true, 4);
  CHECK(p.counts[0] == 3);     // piece 0: a->a at tenures 0 (cust 0), 0, 1 (cust 1)
  CHECK(p.counts[9 + 0] == 2); // piece 2: a->a at tenures 2, 3 (cust 1)
  CHECK(p.counts[9 + 1 * 3 + 2] == 1); // b->c at tenure 2 (cust 0)
  CHECK_THROWS_AS(count_transitions(customer.data(), period.data(), stage.data(),
                                    nullptr, 4, 2, 1, {0}, {false, false}, true, 4),
                  std::invalid_argument);
}

TEST_CASE("transition counts by calendar period, by hand") {
  // The customers of the case above: customer 0 a at 0, b at 2, c (absorbing)
  // at 3; customer 1 a at 1 (a calendar period, not its tenure), censored at 4.
  const std::vector<std::int64_t> customer{0, 0, 0, 1}, period{0, 2, 3, 1};
  const std::vector<std::int32_t> stage{0, 1, 2, 0};
  const auto r =
      count_transitions_by_period(customer.data(), period.data(), stage.data(), nullptr,
                                  4, 3, 1, {false, false, true}, true, 0, 4);
  REQUIRE(r.pieces == 4);
  CHECK(r.counts[0 * 9 + 0] == 1);         // 0 -> 1: a stays (customer 0)
  CHECK(r.counts[1 * 9 + 1] == 1);         // 1 -> 2: a -> b (customer 0)
  CHECK(r.counts[1 * 9 + 0] == 1);         // 1 -> 2: a stays (customer 1)
  CHECK(r.counts[2 * 9 + 1 * 3 + 2] == 1); // 2 -> 3: b -> c
  CHECK(r.counts[3 * 9 + 0] == 1);         // 3 -> 4: customer 1 censored
  // The pieces add up to the tenure-free count.
  const auto all =
      count_transitions(customer.data(), period.data(), stage.data(), nullptr, 4, 3, 1,
                        {0}, {false, false, true}, true, 4);
  for (std::size_t k = 0; k < 9; ++k) {
    std::int64_t sum = 0;
    for (int t = 0; t < 4; ++t) sum += r.counts[static_cast<std::size_t>(t) * 9 + k];
    CHECK(sum == all.counts[k]);
  }
  CHECK_THROWS_AS(count_transitions_by_period(customer.data(), period.data(),
                                              stage.data(), nullptr, 4, 3, 1,
                                              {false, false, true}, true, 1, 4),
                  std::invalid_argument); // period 0 is before the origin
}

TEST_CASE("aggregate replications spread over threads give the one-thread results") {
  const Journey j = three_stage();
  SimulationOptions o = options(1);
  o.method = Method::Aggregate;
  o.replications = 6;
  const auto a = simulate(j, o);
  for (int threads : {2, 4}) {
    o.threads = threads;
    const auto b = simulate(j, o);
    CHECK(a.occupancy == b.occupancy);
    CHECK(a.value_by_period == b.value_by_period);
    CHECK(a.cohort_value == b.cohort_value);
  }
}

TEST_CASE("a cancel stops a block of customers part-way, not at its end") {
  // Three blocks of 4,096 customers over 20,000 periods, one thread: each
  // block is 8e7 customer-periods, a tenth of a second or more (nobody leaves:
  // every one is a step; seconds in the sanitizer build). Blocks report their steps
  // when they finish: once the first has, cancel; the second must stop part-way,
  // reporting nothing more.
  const Journey j = cycling();
  SimulationOptions o = options(1);
  o.customers = 3 * 4096;
  o.periods = 20'000;
  o.per_customer = false;
  // The per-period engine, whose cost per customer-period the sizes above
  // are for (the sojourn engine's cost is per move).
  o.engine = Engine::Period;
  SimulationControl control;
  const std::exception_ptr error = cancel_after_first_report(j, o, control);
  REQUIRE(error);
  CHECK_THROWS_AS(std::rethrow_exception(error), SimulationCancelled);
  CHECK(control.steps_done.load() == std::int64_t{4096} * o.periods);
}

TEST_CASE("a cancel before the run starts stops it before it allocates or runs") {
  const Journey j = three_stage();
  for (const Method m : {Method::Individual, Method::Aggregate}) {
    SimulationOptions o = options(2);
    o.method = m;
    o.customers = 100'000'000; // 1.3 GB of per-customer arrays, never filled
    o.periods = 24;
    SimulationControl control;
    control.cancel = true;
    CHECK_THROWS_AS(simulate(j, o, &control), SimulationCancelled);
    CHECK(control.steps_done.load() == 0);
  }
}

TEST_CASE("a simulation cancelled from another thread stops, its progress readable") {
  // Far more work than can finish before the first block reports progress.
  const Journey j = three_stage();
  SimulationOptions o = options(2);
  o.customers = 20'000'000;
  o.periods = 200;
  o.per_customer = false;
  SimulationControl control;
  const std::exception_ptr error = cancel_after_first_report(j, o, control);
  REQUIRE(error);
  CHECK_THROWS_AS(std::rethrow_exception(error), SimulationCancelled);
  CHECK(control.steps_done.load() > 0);
}

TEST_CASE("life-table accrual: every engine agrees with the exact analysis") {
  // The starting cohort's value per customer, discounted by d^(k-1) on the
  // average of the start and end counts (heemod's "life-table"), within 4
  // standard errors of analyze()'s, for the customer-by-customer, the
  // period-by-period (capacity) and the cohort-count (aggregate) engines. A
  // discount rate of 50% per period sets it well apart from "half-cycle" (a
  // factor sqrt(1/1.5) = 0.82).
  JourneySpec spec = three_stage().spec();
  spec.segments[0].streams[0].discount_rate = 0.5;
  const Journey j(spec);
  SimulationOptions o = options(2);
  o.accrual = Accrual::LifeTable;
  o.customers = 100000;
  const double exact = analyze(j, o.periods, Accrual::LifeTable).value(0);
  const double half = analyze(j, o.periods, Accrual::HalfCycle).value(0);
  const auto M = static_cast<double>(o.customers);
  auto within = [&](const SimulationResult &r) {
    const double mean = r.cohort_value[0] / M;
    const double se = std::sqrt((r.cohort_value_sq[0] / M - mean * mean) / M);
    CHECK(std::abs(mean - exact) < 4.0 * se);
    CHECK(std::abs(mean - half) > 4.0 * se); // the two conventions differ here
  };
  SECTION("individual") { within(simulate(j, o)); }
  SECTION("capacity") {
    CapacityRule unlimited;
    unlimited.capacity = 1000000000;
    unlimited.rank = {0, std::nullopt, std::nullopt};
    unlimited.touched = {true};
    unlimited.fallback = {0};
    o.engine = Engine::Period; // whose draws the capacity engine uses
    const auto a = simulate(j, o);
    const auto b = simulate(j, o, nullptr, {unlimited});
    within(b);
    // Common random numbers: with room for everyone, each customer meets the
    // same draws (segment, start, one per tenure) in both engines.
    REQUIRE(a.customer_value.size() == b.customer_value.size());
    for (std::size_t i = 0; i < a.customer_value.size(); ++i)
      CHECK(a.customer_value[i] == Approx(b.customer_value[i]).epsilon(1e-12));
  }
  SECTION("aggregate: over 40 replications") {
    o.method = Method::Aggregate;
    o.replications = 40;
    o.customers = 20000;
    const auto r = simulate(j, o);
    double s = 0.0, s2 = 0.0;
    for (int i = 0; i < o.replications; ++i) {
      const double x = r.cohort_value[static_cast<std::size_t>(i)] / 20000.0;
      s += x;
      s2 += x * x;
    }
    const double n = o.replications, mean = s / n;
    const double se = std::sqrt((s2 / n - mean * mean) / (n - 1.0));
    CHECK(std::abs(mean - exact) < 4.0 * se);
  }
}
