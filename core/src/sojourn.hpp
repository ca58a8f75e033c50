// The sojourn engine's pieces (not installed): each customer's own random
// stream, and per transition matrix the geometric stay and the exit
// distribution of every stage. See docs/algorithms.md, "Two Monte Carlo engines".
#pragma once

#include "engine.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace journeysim::detail {

// A customer's own random stream: SplitMix64 (Steele, Lea & Flood 2014), a
// counter passed through a 64-bit finaliser, keyed by (seed, replication,
// customer). Nothing is shared between customers, so no draws need reserving:
// a customer meets the same numbers under any plan and any thread count, however
// many draws the others use.
class CustomerStream {
public:
  // The key of replication `rep`'s streams (computed once per block).
  static std::uint64_t key(std::uint64_t seed, std::uint64_t rep) {
    return mix(mix(seed) ^ rep);
  }
  // Customer `customer`'s stream; its start differs from every block stream's
  // seed (stream_seed) by the constant.
  CustomerStream(std::uint64_t key, std::uint64_t customer)
      : start_(mix(key ^ (customer + 0x5851f42d4c957f2dULL))), state_(start_) {}
  // A uniform double in [0, 1) with 53 random bits.
  double uniform() {
    const std::uint64_t x = mix(state_); // mix adds the golden gamma first
    state_ += 0x9e3779b97f4a7c15ULL;
    return static_cast<double>(x >> 11) * 0x1.0p-53;
  }
  // Its n-th draw on its own (counter-based, O(1)): what the (n + 1)-th call of
  // uniform() returns. The period and capacity engines read draw 0 for the
  // segment, 1 for the start stage and 2 + tau for the move of tenure tau, so a
  // customer meets the same numbers in both (common random numbers).
  [[nodiscard]] double at(std::uint64_t n) const {
    return static_cast<double>(mix(start_ + n * 0x9e3779b97f4a7c15ULL) >> 11) *
           0x1.0p-53;
  }

private:
  std::uint64_t start_;
  std::uint64_t state_;
};

// One transition matrix as the sojourn engine reads it: per stage, how many
// periods a customer stays before leaving (geometric, drawn by inversion in one
// draw) and where it goes when it leaves (the exits renormalised, drawn by
// inverse CDF with a guide table).
//
// The geometric inversion K = floor(log(1 - u) / log(stay)) is the largest k
// with stay^k >= 1 - u. Rather than a logarithm per stay (half the engine's
// time), a table of the powers stay^k and a guide over 1 - u find that k in
// about one comparison; the logarithm is left for the far tail (1 - u below
// the table's last power, probability stay^L), so the law is the same.
class SojournSampler {
public:
  explicit SojournSampler(const Matrix &P);

  // Further periods the customer stays in s before the period in which it
  // leaves, from u in [0, 1): K with P(K >= k) = stay^k, or `cap` when that is
  // `cap` or more (never for a stage it cannot leave).
  [[nodiscard]] int stays(int s, double u, int cap) const {
    const Stage &st = stages_[static_cast<std::size_t>(s)];
    if (st.stuck) return cap;
    const double v = 1.0 - u; // in (0, 1], exact
    int k;
    if (v > st.floor) {
      // guide: a lower bound of K over v's cell; the powers decrease, and
      // pw[L] < v stops the scan inside the table.
      const double *pw = pow_.data() + st.pow0;
      k = guide_[st.guide0 + static_cast<std::size_t>(v * kCells)];
      k += pw[k + 1] >= v ? 1 : 0; // one step without a branch: mostly enough
      while (pw[k + 1] >= v) ++k;
    } else {
      // The tail: a stay of 0 has inv_log = -0, K = 0. The ratio is >= 0, so
      // truncation is the floor.
      const double r = std::log(v) * st.inv_log;
      if (r >= static_cast<double>(cap)) return cap;
      k = static_cast<int>(r);
    }
    return k < cap ? k : cap;
  }
  // The stage it leaves s for, from u in [0, 1): inverse CDF over the stage's
  // exits in stage order (as RowSampler of the exits, so the same stage for
  // the same u), only the exits of positive probability kept, with a guide.
  [[nodiscard]] int exit(int s, double u) const {
    const Stage &st = stages_[static_cast<std::size_t>(s)];
    const double *cdf = exit_cdf_.data() + st.exit0;
    std::size_t q =
        exit_guide_[st.exit_guide0 + static_cast<std::size_t>(u * kExitCells)];
    q += cdf[q] <= u ? 1 : 0;
    while (cdf[q] <= u) ++q;
    return exit_stage_[st.exit0 + q];
  }

private:
  static constexpr int kCells = 128;     // guide cells over 1 - u in (0, 1]
  static constexpr int kMaxPowers = 512; // table length cap L per stage
  static constexpr int kExitCells = 32;  // guide cells over u, per stage's exits
  struct Stage {
    double inv_log = 0.0; // 1 / log(stay)
    double floor = 2.0;   // stay^L: at or below it, the logarithm
    std::size_t pow0 = 0, guide0 = 0, exit0 = 0, exit_guide0 = 0;
    bool stuck = false; // no exit, or a stay that rounds to 1
  };
  std::vector<Stage> stages_;
  std::vector<double> pow_;         // per stage: stay^0 .. stay^L
  std::vector<std::int32_t> guide_; // per stage: kCells + 1 lower bounds of K
  // Per stage: the cumulative probabilities of its exits (the last one 2.0, so
  // rounding never runs past it), their stages, and kExitCells guide entries.
  std::vector<double> exit_cdf_;
  std::vector<std::int32_t> exit_stage_, exit_guide_;
};

// draw_from_cdf with the last stage of positive mass found beforehand.
inline int draw_upto(const Vector &cdf, int last, double u) {
  for (int i = 0; i < last; ++i)
    if (u < cdf(i)) return i;
  return last;
}
inline int last_positive(const Vector &cdf) {
  auto last = cdf.size() - 1;
  while (last > 0 && cdf(last) == cdf(last - 1)) --last;
  return static_cast<int>(last);
}

} // namespace journeysim::detail
