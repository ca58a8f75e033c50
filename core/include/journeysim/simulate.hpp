// Monte Carlo: individual customers or cohort counts (multinomial splitting).
// Individual customers move by one of two engines (docs/algorithms.md):
//  - sojourn (the default): per stay, one draw for its length (geometric) and
//    one for where the customer goes; O(1) per move, nothing per period stayed.
//    Customer i of replication r draws from its own SplitMix64 stream keyed by
//    (seed, r, i).
//  - period: one draw per customer-period while it is on its way (inverse-CDF
//    sampling with guide tables), read from the same stream by number: draw 0
//    for the segment, 1 for the start stage, 2 + tau for the move of tenure
//    tau (as the capacity engine reads them).
// Reproducibility: customers are numbered (the starting cohort first, then
// arrivals in order of arrival) and cut into fixed blocks. Threads only decide
// who runs which block, and floating-point sums are reduced per block in block
// order, so the results are bit-identical for any thread count; a customer
// meets the same random numbers under any plan (common random numbers).
#pragma once

#include "journeysim/model.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace journeysim {

// Shared with the caller's thread: progress to report, and a request to stop.
struct SimulationControl {
  std::atomic<std::int64_t> steps_done{0}; // customer-periods simulated so far
  std::atomic<bool> cancel{false};
};

// Thrown when SimulationControl::cancel was set during a run.
struct SimulationCancelled : std::exception {
  [[nodiscard]] const char *what() const noexcept override {
    return "simulation cancelled";
  }
};

enum class Method { Individual, Aggregate };

// How the individual method moves a customer: a draw per stay (Sojourn) or a
// draw per period (Period). Plans with capacity or calendar rules always run
// period by period (the capacity engine); the aggregate method has no engine.
enum class Engine { Sojourn, Period };

struct SimulationOptions {
  std::int64_t customers = 0; // starting cohort (arrivals come from the journey)
  int periods = 0;
  std::uint64_t seed = 0;
  int replications = 1;
  int threads = 0; // 0: all hardware threads
  Accrual accrual = Accrual::Start;
  Method method = Method::Individual;
  Engine engine = Engine::Sojourn;
  bool per_customer = true; // keep per-customer arrays (first replication)
  bool record_events = false;
};

// Per-customer columns a journey fixes for every customer: the start stage
// when everyone starts in stage 0, the first time in a value stage when the
// journey has none (-1), the segment when it has one. The customer-by-customer
// engines leave such a column empty and say its value here (a fifth of the
// per-customer memory at 10 M customers); readers see a constant column.
struct FixedColumns {
  std::optional<std::int16_t> start_stage;
  std::optional<std::int32_t> first_value;
  std::optional<std::uint8_t> segment;
};
FixedColumns fixed_columns(const Journey &journey);

// Arrays flattened in C order; shapes in the comments (R replications, T
// periods, S stages, K streams, M customers of the first replication).
struct SimulationResult {
  int replications = 0, periods = 0, stages = 0, streams = 0;
  std::vector<std::int64_t> occupancy;         // R x (T+1) x S, everyone
  std::vector<std::int64_t> cohort_occupancy;  // R x (T+1) x S, starting cohort only
  std::vector<double> value_by_period;         // R x T x K, discounted to t = 0
  std::vector<double> value_by_period_nominal; // R x T x K
  std::vector<double> cohort_value;       // R x K, starting cohort, own discounting
  std::vector<double> cohort_value_sq;    // R x (K+1), squares of streams and net
  std::vector<double> cohort_lifetime;    // R: sum of lifetimes of the cohort
  std::vector<double> cohort_lifetime_sq; // R
  std::vector<std::int64_t> arrivals;     // R x T, customers joining at t = 1..T
  // Per capacity rule (X of them): R x T x X customers meeting it, treated, and
  // treated for the first time, in each period.
  std::vector<std::int64_t> capacity_eligible, capacity_treated, capacity_first_treated;
  // Per team of the capacity rules (N of them, rules with team >= 0): R x T x N
  // distinct customers meeting any of the team's rules, and handled by it (each
  // customer once per period however many of the team's rules treat it).
  std::vector<std::int64_t> team_eligible, team_handled;
  // With capacity rules: R x S x S changes of stage (from, to) over the horizon,
  // everyone (the hand-offs between teams of a capacity-limited plan).
  std::vector<std::int64_t> capacity_moves;
  // Per customer, first replication (individual method, per_customer):
  std::vector<std::int32_t> lifetime;    // M: periods started in a transient stage
  std::vector<std::int16_t> outcome;     // M: absorbing stage, or -1 if still active
  std::vector<std::int16_t> start_stage; // M: the stage the customer started in
  std::vector<std::int32_t> first_value; // M: first t in a value stage, or -1
  std::vector<std::uint8_t> segment;     // M
  std::vector<double> customer_value;    // M x K, discounted to the customer's start
  // start_stage, first_value and segment are empty when given here.
  FixedColumns fixed;
  // Event log (first replication): one row per change of stage.
  std::vector<std::int64_t> event_customer;
  std::vector<std::int32_t> event_period, event_from, event_to;
};

// A half-open window [from, until) of periods; without `until`, open-ended.
struct Window {
  int from = 0;
  std::optional<int> until;
};

// A rule the period-by-period engine applies to an intervention: its own
// capacity, its team's, a calendar window, or several of them. At most `capacity`
// customers per period are treated among those who meet it (touched customers at one of
// its stages within its tenure window), longest wait first (periods in a row it has
// waited there unserved), then by stage priority (lower rank first), then customer
// number. A customer who is not served that period
// moves as customers of segment `fallback[g]` (the same sub-population without this
// intervention) do.
struct CapacityRule {
  // Customers treated per period at most; none for a calendar window alone.
  std::optional<std::int64_t> capacity;
  // Per stage: its priority, or none for a stage that is not one of the rule's.
  std::vector<std::optional<int>> rank;
  Window window; // in tenure: completed periods since the customer started
  // In calendar time (the period's start); outside it touched customers move as
  // `fallback` (and are not counted).
  Window calendar;
  std::vector<bool> touched; // per segment
  std::vector<int> fallback; // per segment
  // The team that runs it (0, 1, ...; -1 for none) and that team's budget:
  // customers the team handles per period over all its rules, each customer
  // counted once per period. Rules of one team carry the same budget; they are
  // served in the order of the rule list (the plan's order), a customer the
  // team already handles this period costs it nothing more.
  int team = -1;
  std::optional<std::int64_t> team_capacity;
};

// Throws std::invalid_argument for bad options (among them more than 2^62
// customers in all, or a discount rate whose factors overflow within the
// horizon, see check_discounting), when a value would overflow double
// precision, and SimulationCancelled on cancel. With capacity rules the
// individual method runs period by period.
SimulationResult simulate(const Journey &journey, const SimulationOptions &options,
                          SimulationControl *control = nullptr,
                          const std::vector<CapacityRule> &capacity = {});

// The memory simulate() needs, in bytes, by what it is for (result tables,
// per-customer arrays, the engine's working memory), without the event log
// (whose size depends on the draws; see expected_moves). For a check before
// running: nothing is allocated.
std::vector<std::pair<std::string, double>>
simulation_memory(const Journey &journey, const SimulationOptions &options,
                  std::size_t capacity_rules = 0);

// Most customers (starting cohort plus arrivals) one replication may hold:
// counts are 64-bit integers, with room for sums over stages and periods.
constexpr double kMaxCustomers = 4.611686018427388e18; // 2^62

// Expected number of stage changes per customer over `periods` (for sizing an
// event log before running).
double expected_moves(const Journey &journey, int periods);

} // namespace journeysim
