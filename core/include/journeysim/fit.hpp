// Counting transitions in event logs: one pass over arrays sorted by customer
// and period. Counts are additive, so they combine across files and chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace journeysim {

struct TransitionCounts {
  int stages = 0, pieces = 0, segments = 0;
  std::vector<std::int64_t> counts; // segments x pieces x stages x stages
  std::vector<std::int64_t> starts; // segments x stages: first stage of each customer
};

// Observations sorted by (customer, period), at most one per customer and
// period; customers contiguous. A customer's tenure at an observation is its
// period minus the customer's first period; the move from period p to p + 1
// counts in the tenure piece of p (pieces start at `tenure_starts`, first 0).
//
// carry_forward (stage-change events): the stage holds until the next event, so
// every period from one event to the next counts (stays, then the move), and
// after the last event the stage holds until `end_period` (right-censored: no
// move is invented), except in an absorbing stage. Without it (snapshots) only
// observations in consecutive periods count; gaps are skipped.
//
// Throws std::invalid_argument for out-of-range stages or segments, periods not
// increasing within a customer, a segment that changes within a customer, or
// periods so far apart that the periods between them (or a count) overflow int64.
TransitionCounts
count_transitions(const std::int64_t *customer, const std::int64_t *period,
                  const std::int32_t *stage, const std::int32_t *segment, std::size_t n,
                  int stages, int segments, const std::vector<int> &tenure_starts,
                  const std::vector<bool> &absorbing, bool carry_forward,
                  std::int64_t end_period);

// The same counts by calendar period: piece t holds the moves from period
// origin + t to origin + t + 1, for t = 0 .. end_period - origin - 1 (every
// period must be >= origin). Summing the pieces of periods a - 1 .. b - 1 gives
// the moves into periods a .. b, so windows of any length are sums of pieces.
TransitionCounts
count_transitions_by_period(const std::int64_t *customer, const std::int64_t *period,
                            const std::int32_t *stage, const std::int32_t *segment,
                            std::size_t n, int stages, int segments,
                            const std::vector<bool> &absorbing, bool carry_forward,
                            std::int64_t origin, std::int64_t end_period);

} // namespace journeysim
