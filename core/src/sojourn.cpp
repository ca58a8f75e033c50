// The sojourn engine's tables: per stage, the powers of the stay probability
// with their guide (geometric stays) and the exits with theirs (sojourn.hpp).
#include "sojourn.hpp"

#include <limits>

namespace journeysim::detail {
namespace {

// P without its diagonal, each row's exits rescaled to sum to 1 (rows with no
// exit stay all zero: such a stage is never left).
Matrix exit_matrix(const Matrix &P) {
  Matrix Q = P;
  for (Index i = 0; i < Q.rows(); ++i) {
    Q(i, i) = 0.0;
    const double q = Q.row(i).sum();
    if (q > 0.0) Q.row(i) /= q;
  }
  return Q;
}

} // namespace

SojournSampler::SojournSampler(const Matrix &P) {
  const Matrix Q = exit_matrix(P);
  const auto n = static_cast<std::size_t>(P.rows());
  stages_.assign(n, Stage{});
  stay_cell_.assign(n << kStayBits, kSlow);
  exit_cell_.assign(n << kExitCellBits, ExitCell{});
  for (std::size_t i = 0; i < n; ++i) {
    const auto ii = static_cast<Index>(i);
    const double stay = P(ii, ii);
    const double out = P.row(ii).sum() - stay;
    Stage &st = stages_[i];
    // As the per-period engine: a draw u < stay stays, so stay >= 1 never leaves.
    if (!(out > 0.0) || stay >= 1.0) {
      st.stuck = true;
      continue;
    }
    // Exits in stage order, summed as RowSampler does (zeros add nothing).
    st.exit0 = exit_cdf_.size();
    double c = 0.0;
    for (Index j = 0; j < Q.cols(); ++j) {
      if (!(Q(ii, j) > 0.0)) continue;
      c += Q(ii, j);
      // cdf <= u53 2^-53 exactly when ceil(cdf 2^53) <= u53 (the scaling is
      // exact; c <= 1 + rounding, well inside 64 bits).
      exit_cdf_.push_back(static_cast<std::uint64_t>(std::ceil(std::ldexp(c, 53))));
      exit_stage_.push_back(static_cast<std::int32_t>(j));
    }
    exit_cdf_.back() = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t *cdf = exit_cdf_.data() + st.exit0;
    st.exit_guide0 = exit_guide_.size();
    std::int32_t q = 0;
    for (int g = 0; g < kExitCells; ++g) {
      const std::uint64_t lo = static_cast<std::uint64_t>(g) << kExitShift;
      while (cdf[q] <= lo) ++q;
      exit_guide_.push_back(q);
    }
    st.inv_log = 1.0 / std::log(stay); // -0 for stay = 0: every sojourn lasts 1
    // Powers stay^k by repeated products until they fall below a quarter of
    // the first guide cell (the tail beyond is left to the logarithm).
    // The integer v = (1 - u) 2^53 has stay^k >= 1 - u exactly when
    // floor(stay^k 2^53) >= v.
    const auto scaled = [](double x) {
      return static_cast<std::uint64_t>(std::floor(std::ldexp(x, 53)));
    };
    st.pow0 = pow_.size();
    pow_.push_back(kOne);
    double p = 1.0;
    int L = 0;
    while (L < kMaxPowers && p >= 0.25 / kCells) {
      p *= stay;
      pow_.push_back(scaled(p));
      ++L;
    }
    st.floor = scaled(p); // stay^L
    const std::uint64_t *pw = pow_.data() + st.pow0;
    // guide[g] = K at the top of cell g, v = (g + 1) 2^46: the number of k in
    // 1..L with stay^k >= v, a lower bound of K on the cell.
    st.guide0 = guide_.size();
    for (int g = 0; g < kCells; ++g) {
      const std::uint64_t top = static_cast<std::uint64_t>(g + 1) << kCellShift;
      int k = 0;
      while (k < L && pw[k + 1] >= top) ++k;
      guide_.push_back(k);
    }
    fill_cells(i, L);
  }
}

void SojournSampler::fill_cells(std::size_t i, int L) {
  const Stage &st = stages_[i];
  const std::uint64_t *pw = pow_.data() + st.pow0;
  // K(v) = the number of k in 1..L with pw[k] >= v, for v above the floor.
  // Over the cells in order v rises and K falls: one pointer walks the powers.
  std::uint64_t *cells = stay_cell_.data() + (i << kStayBits);
  int k_top = L; // K at the current cell's top, found by lowering from L
  for (std::uint64_t g = 0; g < (std::uint64_t{1} << kStayBits); ++g) {
    const std::uint64_t lo = (g << kStayShift) + 1, hi = (g + 1) << kStayShift;
    while (k_top > 0 && pw[k_top] < hi) --k_top;
    if (lo <= st.floor) continue; // the tail may be in it: scan
    int k_bottom = k_top;
    while (k_bottom < L && pw[k_bottom + 1] >= lo) ++k_bottom;
    if (k_bottom == k_top)
      cells[g] = static_cast<std::uint64_t>(k_top) << 53; // no power inside
    else if (k_bottom == k_top + 1)
      cells[g] = (static_cast<std::uint64_t>(k_top) << 53) | pw[k_top + 1];
    // else: two or more powers inside, scan
  }
  // Exits: q(u53) = the number of thresholds <= u53; a cell [lo, hi) with at
  // most one threshold inside is read directly.
  const std::uint64_t *cdf = exit_cdf_.data() + st.exit0;
  const std::int32_t *to = exit_stage_.data() + st.exit0;
  ExitCell *ecells = exit_cell_.data() + (i << kExitCellBits);
  std::size_t q = 0;
  for (std::uint64_t g = 0; g < (std::uint64_t{1} << kExitCellBits); ++g) {
    const std::uint64_t lo = g << kExitCellShift, hi = (g + 1) << kExitCellShift;
    while (cdf[q] <= lo) ++q;
    std::size_t inside = 0;
    while (cdf[q + inside] < hi) ++inside;
    if (inside == 0)
      ecells[g] = ExitCell{0, to[q], to[q]};
    else if (inside == 1)
      ecells[g] = ExitCell{cdf[q], to[q], to[q + 1]};
    // else: scan
  }
}

} // namespace journeysim::detail
