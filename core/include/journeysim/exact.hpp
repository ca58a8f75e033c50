// Exact cohort analytics: propagation of the stage distribution, discounted
// value, and absorbing-chain results through the fundamental matrix.
//
// Time line (DESIGN.md): x_0 is the start distribution; period k = 1..T moves
// x_{k-1} to x_k = x_{k-1} P(k-1), P(tau) being the matrix for tenure tau.
// Value of period k, per stream with discount factor d = 1 / (1 + r):
//   Start:     x_{k-1} . v(k-1)                    * d^(k-1)
//   End:       x_k     . v(k-1)                    * d^k
//   HalfCycle: (x_{k-1} + x_k) / 2 . v(k-1)        * d^(k-1/2)
//   LifeTable: (x_{k-1} + x_k) / 2 . v(k-1)        * d^(k-1)    (heemod)
//   moves:     sum_ij x_{k-1,i} P_ij(k-1) T_ij     * d^k
// All of these are d^(k-1) x_{k-1} . a(k-1) for an "effective" per-stage vector
// a, which is what the code below propagates forwards and backwards.
#pragma once

#include "journeysim/model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace journeysim {

// Results of analyze(). Stream columns are the journey's streams in order, then
// net value (the weighted sum that makes CLV). Per-customer figures are for one
// customer drawn from the start distribution (and segment shares); population
// figures include the cohort size and arrivals.
struct Analysis {
  int periods = 0;
  Matrix occupancy;          // (T+1) x S, shares
  Matrix population;         // (T+1) x S, customers
  Vector retention;          // T+1, summed over the non-absorbing stages
  Vector absorbed;           // T: share absorbed in period k (flow into absorbing)
  Matrix entries;            // T x S, moving into each stage in period k, per customer
  Matrix population_entries; // T x S, customers
  Matrix flows;              // S x S, expected moves i -> j over the horizon
  Matrix value_by_period;    // T x (K+1), discounted, per customer
  Matrix value_by_period_nominal;            // T x (K+1), undiscounted, per customer
  Matrix population_value_by_period;         // T x (K+1), discounted
  Matrix population_value_by_period_nominal; // T x (K+1), undiscounted
  Vector value;                              // K+1, over the horizon, per customer
  Vector value_infinite;         // K+1, whole lifetime, per customer (may be inf / nan)
  Vector population_value;       // K+1, over the horizon
  double lifetime_horizon = 0.0; // expected periods in transient stages within T
  double lifetime = 0.0;         // expected periods to absorption (may be inf)
  Vector absorption;             // S: probability of ending in each absorbing stage
  // S x B: from each stage at tenure 0 (rows), probability of ending in each
  // absorbing stage (columns, in stage order).
  Matrix absorption_by_stage;
  Vector value_reached;     // T+1: share that has reached a value stage by t
  double ttv_reached = 0.0; // share that ever reaches a value stage
  double ttv_mean = 0.0;    // mean first-passage periods for those who do
  double ttv_never = 0.0;   // share that never does (computed on its own: exact 0
                            // when reaching is certain)
  // Per stage, for a customer who is in that stage at tenure 0:
  Vector stage_lifetime;             // S, remaining expected lifetime (whole lifetime)
  Vector stage_lifetime_horizon;     // S, within T periods
  Matrix stage_value;                // S x (K+1), within T periods
  Matrix stage_value_infinite;       // S x (K+1), whole lifetime
  std::vector<std::string> warnings; // stages that can never be absorbed
  // Condition number (infinity norm) of the worst-conditioned fundamental
  // matrix I - dQ solved for the whole-lifetime results, and a warning for each
  // one above kIllConditioned (linalg.hpp), naming it.
  double condition = 1.0;
  std::vector<std::string> condition_warnings;
  std::vector<Analysis> segments; // one per segment when there are several
};

// For a customer of one segment: the probability that tenure tau, for
// from <= tau < until, is the first tenure in [from, until) at which the
// customer is in one of `stages` (at the start of period tau + 1).
Vector first_visits(const Journey &journey, std::size_t segment,
                    const std::vector<int> &stages, int from, int until);

// For a customer of one segment, with several targets k (stages[k] within the
// tenure window [from[k], until[k])): the probability that tenure tau, for
// 0 <= tau < horizon, is the first at which the customer is in a target's
// stages within that target's window, whichever target it is. Its sum is the
// probability of meeting at least one target: customers reached by any of a
// plan's interventions, each counted once.
Vector first_visits_any(const Journey &journey, std::size_t segment,
                        const std::vector<std::vector<int>> &stages,
                        const std::vector<int> &from, const std::vector<int> &until,
                        int horizon);

enum class Sensitivity { Value, Lifetime, Retention };

// Exact derivatives of a metric per customer (net value, expected lifetime, or
// retention at the horizon) with respect to moving probability, in every tenure
// piece and segment, from dest[i] to j in row i: entry (i, j). Over `periods`
// periods, or without them over the whole lifetime (not for retention). Through
// the fundamental matrix for the stationary tail; absorbing rows are zero.
Matrix sensitivities(const Journey &journey, std::optional<int> periods,
                     Accrual accrual, Sensitivity metric, const std::vector<int> &dest);

// Throws std::invalid_argument for periods < 0, for a discount rate whose
// factors (1 + r)^-k overflow within the horizon (r close to -1), and when a
// result over the horizon would overflow double precision (values, cohort
// size or arrivals too large): a result is never silently infinite or nan.
// Whole-lifetime results may be infinite (or nan) where the series diverges,
// as documented in docs/algorithms.md.
Analysis analyze(const Journey &journey, int periods, Accrual accrual = Accrual::Start);

// Throws std::invalid_argument when a stream's discount factor (1 + r)^-k
// overflows for some k <= periods (shared with the simulation).
void check_discounting(const Journey &journey, int periods);

// Bytes analyze() needs for its per-period tables (for a check before running).
double analysis_memory(const Journey &journey, int periods);

} // namespace journeysim
