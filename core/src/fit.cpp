#include "journeysim/fit.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace journeysim {
namespace {

constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();

// Periods from `from` to `to` (from <= to), without overflow: any two int64
// periods are allowed, but a span that an int64 cannot hold is refused.
std::int64_t span(std::int64_t from, std::int64_t to) {
  const std::uint64_t d =
      static_cast<std::uint64_t>(to) - static_cast<std::uint64_t>(from);
  if (d > static_cast<std::uint64_t>(kMaxCount))
    throw std::invalid_argument("periods " + std::to_string(from) + " and " +
                                std::to_string(to) +
                                " are too far apart to count the periods between them");
  return static_cast<std::int64_t>(d);
}

// The one pass behind both ways of binning. A move from period p counts in the
// piece of its tenure: p minus the customer's first period, or with `calendar`
// p minus `origin` (the same for everyone, so the pieces are calendar periods).
TransitionCounts count_impl(const std::int64_t *customer, const std::int64_t *period,
                            const std::int32_t *stage, const std::int32_t *segment,
                            std::size_t n, int stages, int segments,
                            const std::vector<int> &tenure_starts,
                            const std::vector<bool> &absorbing, bool carry_forward,
                            std::int64_t end_period, bool calendar,
                            std::int64_t origin) {
  if (stages <= 0) throw std::invalid_argument("count_transitions needs stages > 0");
  if (segments <= 0)
    throw std::invalid_argument("count_transitions needs segments > 0");
  if (tenure_starts.empty() || tenure_starts[0] != 0)
    throw std::invalid_argument("tenure pieces must start at 0");
  for (std::size_t p = 1; p < tenure_starts.size(); ++p)
    if (tenure_starts[p] <= tenure_starts[p - 1])
      throw std::invalid_argument("tenure pieces must be increasing");
  if (absorbing.size() != static_cast<std::size_t>(stages))
    throw std::invalid_argument("absorbing needs one flag per stage");
  TransitionCounts out;
  out.stages = stages;
  out.pieces = static_cast<int>(tenure_starts.size());
  out.segments = segments;
  const auto S = static_cast<std::size_t>(stages);
  const auto P = tenure_starts.size();
  out.counts.assign(static_cast<std::size_t>(segments) * P * S * S, 0);
  out.starts.assign(static_cast<std::size_t>(segments) * S, 0);
  // Binary search: a calendar count has a piece per period.
  auto piece_of = [&](std::int64_t tenure) {
    const auto it = std::upper_bound(tenure_starts.begin(), tenure_starts.end(), tenure,
                                     [](std::int64_t t, int s) { return t < s; });
    return static_cast<std::size_t>(it - tenure_starts.begin()) - 1;
  };
  // Adds `k` moves i -> j for tenures [t0, t0 + k) (k stays, or one move).
  auto add = [&](std::size_t g, std::int64_t t0, std::int64_t k, std::size_t i,
                 std::size_t j) {
    std::int64_t t = t0;
    while (k > 0) {
      const std::size_t p = piece_of(t);
      const std::int64_t until =
          p + 1 < P ? static_cast<std::int64_t>(tenure_starts[p + 1]) : t + k;
      const std::int64_t m = std::min(k, until - t);
      std::int64_t &cell = out.counts[((g * P + p) * S + i) * S + j];
      if (m > kMaxCount - cell)
        throw std::invalid_argument("transition counts overflow a 64-bit integer: the "
                                    "periods span too long a time");
      cell += m;
      t += m;
      k -= m;
    }
  };
  std::size_t r = 0;
  while (r < n) {
    const std::int64_t c = customer[r];
    if (calendar && period[r] < origin)
      throw std::invalid_argument("period " + std::to_string(period[r]) +
                                  " is before the origin " + std::to_string(origin));
    const std::int64_t first = calendar ? origin : period[r];
    const std::int32_t g0 = segment ? segment[r] : 0;
    if (g0 < 0 || g0 >= segments)
      throw std::invalid_argument("segment code out of range at row " +
                                  std::to_string(r));
    const auto g = static_cast<std::size_t>(g0);
    std::size_t prev = r;
    if (stage[r] < 0 || stage[r] >= stages)
      throw std::invalid_argument("stage code out of range at row " +
                                  std::to_string(r));
    ++out.starts[g * S + static_cast<std::size_t>(stage[r])];
    std::size_t q = r + 1;
    for (; q < n && customer[q] == c; ++q) {
      if (stage[q] < 0 || stage[q] >= stages)
        throw std::invalid_argument("stage code out of range at row " +
                                    std::to_string(q));
      if (period[q] <= period[prev])
        throw std::invalid_argument("periods must increase within a customer (row " +
                                    std::to_string(q) + ")");
      if (segment && segment[q] != g0)
        throw std::invalid_argument("a customer's segment changes at row " +
                                    std::to_string(q));
      const auto i = static_cast<std::size_t>(stage[prev]);
      const auto j = static_cast<std::size_t>(stage[q]);
      const std::int64_t gap = span(period[prev], period[q]);
      const std::int64_t t0 = span(first, period[prev]);
      span(first, period[q]); // t0 + gap must be representable too
      if (!absorbing[i]) {
        if (carry_forward) {
          add(g, t0, gap - 1, i, i); // stays while nothing happens
          add(g, t0 + gap - 1, 1, i, j);
        } else if (gap == 1) {
          add(g, t0, 1, i, j);
        }
      }
      prev = q;
    }
    // Right-censoring: the last stage holds to the end of the data.
    const auto last = static_cast<std::size_t>(stage[prev]);
    if (carry_forward && !absorbing[last] && end_period > period[prev]) {
      span(first, end_period);
      add(g, span(first, period[prev]), span(period[prev], end_period), last, last);
    }
    r = q;
  }
  return out;
}

} // namespace

TransitionCounts
count_transitions(const std::int64_t *customer, const std::int64_t *period,
                  const std::int32_t *stage, const std::int32_t *segment, std::size_t n,
                  int stages, int segments, const std::vector<int> &tenure_starts,
                  const std::vector<bool> &absorbing, bool carry_forward,
                  std::int64_t end_period) {
  return count_impl(customer, period, stage, segment, n, stages, segments,
                    tenure_starts, absorbing, carry_forward, end_period, false, 0);
}

TransitionCounts
count_transitions_by_period(const std::int64_t *customer, const std::int64_t *period,
                            const std::int32_t *stage, const std::int32_t *segment,
                            std::size_t n, int stages, int segments,
                            const std::vector<bool> &absorbing, bool carry_forward,
                            std::int64_t origin, std::int64_t end_period) {
  if (end_period <= origin)
    throw std::invalid_argument(
        "count_transitions_by_period needs end_period > origin");
  const std::int64_t bins = span(origin, end_period);
  if (bins > 1'000'000)
    throw std::invalid_argument("count_transitions_by_period: " + std::to_string(bins) +
                                " periods are too many to count one by one");
  std::vector<int> starts(static_cast<std::size_t>(bins));
  for (std::size_t t = 0; t < starts.size(); ++t) starts[t] = static_cast<int>(t);
  return count_impl(customer, period, stage, segment, n, stages, segments, starts,
                    absorbing, carry_forward, end_period, true, origin);
}

} // namespace journeysim
