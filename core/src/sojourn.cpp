// The sojourn engine's tables: per stage, the powers of the stay probability
// with their guide (geometric stays) and the exits with theirs (sojourn.hpp).
#include "sojourn.hpp"

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
      exit_cdf_.push_back(c);
      exit_stage_.push_back(static_cast<std::int32_t>(j));
    }
    exit_cdf_.back() = 2.0;
    const double *cdf = exit_cdf_.data() + st.exit0;
    st.exit_guide0 = exit_guide_.size();
    std::int32_t q = 0;
    for (int g = 0; g < kExitCells; ++g) {
      const double lo = static_cast<double>(g) / kExitCells;
      while (cdf[q] <= lo) ++q;
      exit_guide_.push_back(q);
    }
    st.inv_log = 1.0 / std::log(stay); // -0 for stay = 0: every sojourn lasts 1
    // Powers stay^k by repeated products until they fall below a quarter of
    // the first guide cell (the tail beyond is left to the logarithm).
    st.pow0 = pow_.size();
    pow_.push_back(1.0);
    double p = 1.0;
    int L = 0;
    while (L < kMaxPowers && p >= 0.25 / kCells) {
      p *= stay;
      pow_.push_back(p);
      ++L;
    }
    st.floor = p; // = stay^L
    const double *pw = pow_.data() + st.pow0;
    // guide[g] = K at the top of cell g, v = (g + 1) / kCells: the number of
    // k in 1..L with stay^k >= v, a lower bound of K on the cell.
    st.guide0 = guide_.size();
    for (int g = 0; g <= kCells; ++g) {
      const double top = std::min(1.0, static_cast<double>(g + 1) / kCells);
      int k = 0;
      while (k < L && pw[k + 1] >= top) ++k;
      guide_.push_back(k);
    }
  }
}

} // namespace journeysim::detail
