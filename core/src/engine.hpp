// Internal to the simulation engines (not installed): random streams, row
// sampling and the per-segment tables every engine uses.
#pragma once

#include "journeysim/simulate.hpp"

#include <boost/random/mersenne_twister.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

namespace journeysim::detail {

using Index = Eigen::Index;
using Rng = boost::random::mt19937_64;
constexpr std::int64_t kBlock = 4096; // customers per random stream

// Cancellation is checked at least this often, in customer-periods (or, for
// filling arrays, elements): about a millisecond of work. A relaxed atomic
// load costs next to nothing beside it.
constexpr std::int64_t kCheckEvery = std::int64_t{1} << 18;

inline bool cancelled(const SimulationControl *ctl) {
  return ctl && ctl->cancel.load(std::memory_order_relaxed);
}

// v = n copies of x, filled a chunk at a time with a cancellation check
// between chunks: zero-filling the arrays of 10^8 customers takes most of a
// second, the first thing a large run does.
template <class T>
void assign_cancellable(std::vector<T> &v, std::size_t n, const T &x,
                        const SimulationControl *ctl) {
  v.clear();
  v.reserve(n);
  constexpr auto chunk = static_cast<std::size_t>(kCheckEvery) * 16;
  while (v.size() < n) {
    if (cancelled(ctl)) throw SimulationCancelled();
    v.resize(std::min(n, v.size() + chunk), x);
  }
}

// Blocks run between two ordered reductions of their floating-point sums: the
// memory of those sums stays bounded whatever the number of customers.
inline std::int64_t wave_blocks(int threads) {
  return std::max<std::int64_t>(16 * static_cast<std::int64_t>(threads), 64);
}

// SplitMix64 finaliser: decorrelates the seeds of neighbouring streams.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t rep,
                                 std::uint64_t block) {
  return mix(mix(mix(seed) ^ rep) ^ (block + 0x632be59bd9b4e019ULL));
}

// A uniform double in [0, 1) with 53 random bits.
inline double uniform(Rng &rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Inverse-CDF sampling of each row with a guide table (Chen's indexed search):
// O(1) expected, and monotone in the uniform, so that a small change of the
// probabilities changes few customers' paths (good common random numbers). Each
// row is laid out "stay first, then the other stages in order": most steps stay
// put, and those cost one comparison.
struct RowSampler {
  int n = 0;
  double n_real = 0.0;
  std::vector<double> stay;        // n
  std::vector<double> cdf;         // n x n, cumulative over positions
  std::vector<std::int32_t> stage; // n x n, the stage at each position
  std::vector<std::int32_t> guide; // n x n: first position with cdf > g / n

  explicit RowSampler(const Matrix &P)
      : n(static_cast<int>(P.rows())), n_real(static_cast<double>(P.rows())) {
    const auto nn = static_cast<std::size_t>(n);
    stay.resize(nn);
    cdf.resize(nn * nn);
    stage.resize(nn * nn);
    guide.resize(nn * nn);
    for (int i = 0; i < n; ++i) {
      const std::size_t row = static_cast<std::size_t>(i) * nn;
      stay[static_cast<std::size_t>(i)] = P(i, i);
      double c = 0.0;
      std::size_t pos = 0, last = 0;
      auto put = [&](int j) {
        c += P(i, j);
        if (P(i, j) > 0.0) last = pos;
        cdf[row + pos] = c;
        stage[row + pos] = j;
        ++pos;
      };
      put(i);
      for (int j = 0; j < n; ++j)
        if (j != i) put(j);
      // Rounding must never let a draw fall past the last possible stage.
      for (std::size_t q = last; q < nn; ++q) cdf[row + q] = 2.0;
      std::size_t q = 0;
      for (std::size_t g = 0; g < nn; ++g) {
        const double lo = static_cast<double>(g) / n;
        while (cdf[row + q] <= lo) ++q;
        guide[row + g] = static_cast<std::int32_t>(q);
      }
    }
  }
  [[nodiscard]] int draw(int i, double u) const {
    if (u < stay[static_cast<std::size_t>(i)]) return i;
    const std::size_t row = static_cast<std::size_t>(i) * static_cast<std::size_t>(n);
    auto q =
        static_cast<std::size_t>(guide[row + static_cast<std::size_t>(u * n_real)]);
    while (cdf[row + q] <= u) ++q;
    return stage[row + q];
  }
};

// What the simulation needs of one segment: a sampler per transition piece,
// the stage values per value piece, and the values of moves.
struct SegmentTables {
  std::vector<int> trans_starts;
  std::vector<RowSampler> samplers;
  std::vector<int> value_starts; // union of the streams' value pieces
  std::vector<Matrix> values;    // per value piece: S x K
  std::vector<Matrix> moves;     // K matrices S x S, or empty
  Vector start_cdf;

  // The sampler for tenure tau (pieces are few; tau only grows per customer).
  [[nodiscard]] const RowSampler &sampler_at(int tau) const {
    std::size_t p = 0;
    while (p + 1 < trans_starts.size() && trans_starts[p + 1] <= tau) ++p;
    return samplers[p];
  }
};

inline SegmentTables make_tables(const Segment &seg) {
  SegmentTables t;
  t.trans_starts = seg.transitions.starts;
  for (const auto &P : seg.transitions.pieces) t.samplers.emplace_back(P);
  std::set<int> starts{0};
  for (const auto &vs : seg.streams)
    starts.insert(vs.stage_values.starts.begin(), vs.stage_values.starts.end());
  t.value_starts.assign(starts.begin(), starts.end());
  const auto K = static_cast<Index>(seg.streams.size());
  const auto n = seg.start.size();
  for (int st : t.value_starts) {
    Matrix v(n, K);
    for (Index k = 0; k < K; ++k)
      v.col(k) = seg.streams[static_cast<std::size_t>(k)].stage_values.at(st);
    t.values.push_back(std::move(v));
  }
  bool any_moves = false;
  for (const auto &vs : seg.streams) any_moves |= vs.transition_values.size() != 0;
  if (any_moves)
    for (const auto &vs : seg.streams)
      t.moves.push_back(vs.transition_values.size() ? vs.transition_values
                                                    : Matrix::Zero(n, n));
  t.start_cdf.resize(n);
  double c = 0.0;
  for (Index i = 0; i < n; ++i) t.start_cdf(i) = (c += seg.start(i));
  return t;
}

inline int draw_from_cdf(const Vector &cdf, double u) {
  // Last stage with positive mass takes whatever rounding leaves over.
  const Index n = cdf.size();
  Index last = n - 1;
  while (last > 0 && cdf(last) == cdf(last - 1)) --last;
  for (Index i = 0; i < last; ++i)
    if (u < cdf(i)) return static_cast<int>(i);
  return static_cast<int>(last);
}

// Discount factors d^x for x = 0, 1/2, 1, 3/2, ... (index 2x), per stream.
inline std::vector<std::vector<double>> discount_table(const Journey &j, int T) {
  std::vector<std::vector<double>> out;
  for (const auto &vs : j.segments()[0].streams) {
    const double d = 1.0 / (1.0 + vs.discount_rate);
    std::vector<double> p(static_cast<std::size_t>(2 * T + 3));
    for (std::size_t h = 0; h < p.size(); ++h)
      p[h] = std::pow(d, 0.5 * static_cast<double>(h));
    out.push_back(std::move(p));
  }
  return out;
}

// The value of one period for one move s -> next: the undiscounted amount, and
// the amount discounted to the start of the clock whose tenure-based index is
// h = 2 tau (d holds d^(x/2)). Stage values follow the accrual; a value on the
// move is discounted like "end".
struct PeriodValue {
  double amount = 0.0, discounted = 0.0;
};
inline PeriodValue period_value(Accrual accrual, double v_from, double v_to,
                                double move, const std::vector<double> &d,
                                std::size_t h) {
  PeriodValue r;
  switch (accrual) {
  case Accrual::Start:
    r.amount = v_from;
    r.discounted = v_from * d[h];
    break;
  case Accrual::End:
    r.amount = v_to;
    r.discounted = v_to * d[h + 2];
    break;
  case Accrual::HalfCycle:
    r.amount = 0.5 * (v_from + v_to);
    r.discounted = r.amount * d[h + 1];
    break;
  case Accrual::LifeTable:
    r.amount = 0.5 * (v_from + v_to);
    r.discounted = r.amount * d[h];
    break;
  }
  r.amount += move;
  r.discounted += move * d[h + 2];
  return r;
}

// The engines, one file each; `joins[r][t]` customers join at t in replication r.
void run_individual(const Journey &j, const SimulationOptions &o,
                    SimulationControl *ctl,
                    const std::vector<std::vector<std::int64_t>> &joins,
                    SimulationResult &out, int threads);
void run_capacity(const Journey &j, const SimulationOptions &o,
                  const std::vector<CapacityRule> &rules, SimulationControl *ctl,
                  const std::vector<std::vector<std::int64_t>> &joins,
                  SimulationResult &out, int threads);
void run_aggregate(const Journey &j, const SimulationOptions &o, int rep,
                   const SimulationControl *ctl, SimulationResult &out);

} // namespace journeysim::detail
