// The sojourn engine's tables: per stage, 1 / log(stay) for geometric stays and
// the exit distribution (sojourn.hpp).
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

SojournSampler::SojournSampler(const Matrix &P) : exits_(exit_matrix(P)) {
  const auto n = static_cast<std::size_t>(P.rows());
  inv_log_.assign(n, 0.0);
  stuck_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto ii = static_cast<Index>(i);
    const double stay = P(ii, ii);
    const double out = P.row(ii).sum() - stay;
    // As the per-period engine: a draw u < stay stays, so stay >= 1 never leaves.
    if (!(out > 0.0) || stay >= 1.0) {
      stuck_[i] = 1;
      continue;
    }
    inv_log_[i] = 1.0 / std::log(stay); // -0 for stay = 0: every sojourn lasts 1
  }
}

} // namespace journeysim::detail
