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
  // The next draw as 53 random bits: the integer u53 of the uniform
  // u = u53 * 2^-53 in [0, 1). The sojourn engine compares it with tables
  // scaled by 2^53 (integers), the same outcomes as comparing u, without
  // turning it into a double on the way.
  std::uint64_t bits() {
    const std::uint64_t x = mix(state_); // mix adds the golden gamma first
    state_ += 0x9e3779b97f4a7c15ULL;
    return x >> 11;
  }
  // Moves past the next draw without computing it.
  void skip() { state_ += 0x9e3779b97f4a7c15ULL; }
  // The next draw as a uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(bits()) * 0x1.0p-53; }
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
//
// Draws come as 53-bit integers u53 (u = u53 * 2^-53) and the tables hold
// their thresholds times 2^53 rounded to integers the way that keeps every
// comparison's outcome (floor for "power >= 1 - u", ceil for "cdf <= u"): the
// same K and exit as the comparisons in doubles, with no conversion, scaling or
// float-to-int rounding on the chain from one draw to the next stay.
class SojournSampler {
public:
  static constexpr std::uint64_t kOne = std::uint64_t{1} << 53; // u = 1

  explicit SojournSampler(const Matrix &P);

  // Further periods the customer stays in s before the period in which it
  // leaves, from the draw u53: K with P(K >= k) = stay^k, or `cap` when that
  // is `cap` or more (never for a stage it cannot leave).
  //
  // A move's time is mostly the wait for one table read to give the next, so
  // the usual case is one read indexed by the stage itself: v's cell in a
  // fine grid, which holds K at the cell's top and the one power inside it
  // (if any), so K = k0 + (power >= v) without a branch. Cells holding two or
  // more powers, or reaching the logarithm's tail, and stages never left,
  // are marked and take stays_scan.
  [[nodiscard]] int stays(int s, std::uint64_t u53, int cap) const {
    const std::uint64_t v = kOne - u53; // (1 - u) 2^53, in [1, 2^53]
    const std::uint64_t c = stay_cell_[(static_cast<std::size_t>(s) << kStayBits) +
                                       static_cast<std::size_t>((v - 1) >> kStayShift)];
    if (c & kSlow) return stays_scan(s, v, cap);
    const int k = static_cast<int>(c >> 53) + ((c & kLow53) >= v ? 1 : 0);
    return k < cap ? k : cap;
  }
  // The stage it leaves s for, from the draw u53: inverse CDF over the stage's
  // exits in stage order (as RowSampler of the exits, so the same stage for
  // the same u), only the exits of positive probability kept. As stays: one
  // read of u53's cell, which holds the one threshold inside it (if any) and
  // the exits below and above it; cells with more take exit_scan.
  [[nodiscard]] int exit(int s, std::uint64_t u53) const {
    const ExitCell &e = exit_cell_[(static_cast<std::size_t>(s) << kExitCellBits) +
                                   static_cast<std::size_t>(u53 >> kExitCellShift)];
    if (e.below < 0) return exit_scan(s, u53);
    return u53 >= e.threshold ? e.above : e.below;
  }

  // The same K as stays() by the guide and powers of the stage (or its
  // logarithm in the tail), v = (1 - u) 2^53.
  [[nodiscard]] int stays_scan(int s, std::uint64_t v, int cap) const {
    const Stage &st = stages_[static_cast<std::size_t>(s)];
    if (st.stuck) return cap;
    int k;
    if (v > st.floor) {
      // guide: a lower bound of K over v's cell; the powers decrease, and
      // pw[L] < v stops the scan inside the table.
      const std::uint64_t *pw = pow_.data() + st.pow0;
      k = guide_[st.guide0 + static_cast<std::size_t>((v - 1) >> kCellShift)];
      while (pw[k + 1] >= v) ++k;
    } else {
      // The tail: a stay of 0 has inv_log = -0, K = 0. The ratio is >= 0, so
      // truncation is the floor.
      const double r = std::log(static_cast<double>(v) * 0x1.0p-53) * st.inv_log;
      if (r >= static_cast<double>(cap)) return cap;
      k = static_cast<int>(r);
    }
    return k < cap ? k : cap;
  }
  // The same stage as exit() by the stage's guide and cumulative thresholds.
  [[nodiscard]] int exit_scan(int s, std::uint64_t u53) const {
    const Stage &st = stages_[static_cast<std::size_t>(s)];
    const std::uint64_t *cdf = exit_cdf_.data() + st.exit0;
    std::size_t q =
        exit_guide_[st.exit_guide0 + static_cast<std::size_t>(u53 >> kExitShift)];
    while (cdf[q] <= u53) ++q;
    return exit_stage_[st.exit0 + q];
  }

private:
  void fill_cells(std::size_t i, int L);    // stage i's one-read cells
  static constexpr int kCells = 128;        // guide cells over 1 - u in (0, 1]
  static constexpr int kCellShift = 53 - 7; // cell of v: (v - 1) >> 46
  static constexpr int kMaxPowers = 512;    // table length cap L per stage
  static constexpr int kExitCells = 32;     // guide cells over u, per stage's exits
  static constexpr int kExitShift = 53 - 5; // cell of u53: u53 >> 48
  static_assert(kCells == 1 << (53 - kCellShift) &&
                kExitCells == 1 << (53 - kExitShift));
  // The one-read cells: 512 over v per stage (8 bytes each: the power inside
  // in the low 53 bits, K at the top in the next 10, "scan" in the top bit)
  // and 64 over u per stage for the exits.
  static constexpr int kStayBits = 9, kStayShift = 53 - kStayBits;
  static constexpr int kExitCellBits = 6, kExitCellShift = 53 - kExitCellBits;
  static constexpr std::uint64_t kLow53 = kOne - 1, kSlow = std::uint64_t{1} << 63;
  static_assert(kMaxPowers < 1 << 10, "K at a cell's top fits in 10 bits");
  struct ExitCell {
    std::uint64_t threshold = 0;         // u53 >= it: above, else below
    std::int32_t below = -1, above = -1; // below < 0: scan
  };
  std::vector<std::uint64_t> stay_cell_; // S x 2^kStayBits
  std::vector<ExitCell> exit_cell_;      // S x 2^kExitCellBits
  struct Stage {
    double inv_log = 0.0; // 1 / log(stay)
    // floor(stay^L 2^53): at or below it, the logarithm (above any v: none)
    std::uint64_t floor = kOne + 1;
    std::size_t pow0 = 0, guide0 = 0, exit0 = 0, exit_guide0 = 0;
    bool stuck = false; // no exit, or a stay that rounds to 1
  };
  std::vector<Stage> stages_;
  std::vector<std::uint64_t> pow_;  // per stage: floor(stay^k 2^53), k = 0..L
  std::vector<std::int32_t> guide_; // per stage: kCells lower bounds of K
  // Per stage: the cumulative probabilities of its exits times 2^53, rounded
  // up (the last one the largest integer, so rounding never runs past it),
  // their stages, and kExitCells guide entries.
  std::vector<std::uint64_t> exit_cdf_;
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
