// Sensitivities: exact derivatives of net value, expected lifetime or retention
// with respect to moving probability within a row of the transition matrices,
// by a backward pass (value to go) and a forward pass (discounted occupancy).
#include "exact_detail.hpp"

#include "journeysim/graph.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

namespace journeysim {
namespace {

using namespace detail;

// d metric / d eps for one segment, where eps of row i's probability moves from
// dest[i] to j (in every tenure piece). `column` < K is a value stream, K the
// "alive" column (lifetime); `terminal` adds the transient indicator at T
// (retention at T). No T: whole lifetime.
Matrix segment_sensitivity(const Journey &journey, const Segment &seg,
                           std::optional<int> T, Accrual accrual, Index column,
                           bool terminal, const std::vector<int> &dest) {
  const auto n = static_cast<Index>(journey.n_stages());
  const auto K = static_cast<Index>(journey.n_streams());
  const auto &absorbing = journey.absorbing();
  const Vector dvec = discount_factors(seg);
  const auto epochs = make_epochs(seg, absorbing, dvec, accrual);
  const double d = dvec(column);
  const bool whole = !T;
  const int L = epochs.back().start;
  const int steps = whole ? L : *T; // periods handled one by one
  Matrix A(n, epochs.size());       // effective per-stage vector of the column
  for (std::size_t e = 0; e < epochs.size(); ++e)
    A.col(static_cast<Index>(e)) =
        terminal ? Vector::Zero(n) : Vector(epochs[e].A.col(column));
  // Value to go W_k, k = steps .. 1 (and W_steps is the tail's for a whole lifetime).
  Matrix W(steps + 1, n);
  Vector w = Vector::Zero(n);
  if (terminal)
    for (Index i = 0; i < n; ++i)
      w(i) = absorbing[static_cast<std::size_t>(i)] ? 0.0 : 1.0;
  SolverCache solvers(*epochs.back().P);
  if (whole) {
    Matrix a1 = A.col(static_cast<Index>(epochs.size() - 1));
    w = whole_lifetime(*epochs.back().P, a1, Vector::Constant(1, d), solvers).col(0);
  }
  W.row(steps) = w.transpose();
  for (int k = steps; k >= 1; --k) {
    const std::size_t e = epoch_at(epochs, k - 1);
    w = A.col(static_cast<Index>(e)) +
        d * safe_product(*epochs[e].prop, Matrix(w)).col(0);
    W.row(k - 1) = w.transpose();
  }
  // Forward: weights d^k x_{k-1}(i) of W_k, and sums of d^(k-1) x_{k-1} per epoch.
  Matrix C = Matrix::Zero(steps, n);
  std::vector<Vector> G(epochs.size(), Vector::Zero(n));
  RowVector x = seg.start.transpose();
  for (int k = 1; k <= steps; ++k) {
    const std::size_t e = epoch_at(epochs, k - 1);
    C.row(k - 1) = std::pow(d, k) * x;
    G[e] += std::pow(d, k - 1) * x.transpose();
    x = epochs[e].prop->left(x);
  }
  Matrix D = C.transpose() * W.bottomRows(steps);
  Vector tail = Vector::Zero(n); // occupation of the stationary tail
  if (whole) {
    // The stationary tail: y = sum_{m >= L} d^m x_m = d^L x_L (I - dP)^-1.
    const Matrix &P = *epochs.back().P;
    std::vector<bool> set(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < set.size(); ++i) set[i] = d < 1.0 || !absorbing[i];
    if (d >= 1.0) {
      const auto reach = can_reach(P, absorbing);
      for (std::size_t i = 0; i < set.size(); ++i) set[i] = set[i] && reach[i];
    }
    const auto idx = indices_of(set);
    Vector y = Vector::Zero(n);
    if (!idx.empty()) {
      const auto m = static_cast<Index>(idx.size());
      Vector rhs(m);
      for (Index r = 0; r < m; ++r)
        rhs(r) = std::pow(d, L) * x(idx[static_cast<std::size_t>(r)]);
      // y (I - dP) = rhs: the transposed system of the fundamental matrix.
      const Vector yy = FundamentalSolver(P, idx, d).solve_transposed(rhs).col(0);
      for (Index r = 0; r < m; ++r) y(idx[static_cast<std::size_t>(r)]) = yy(r);
    }
    for (Index i = 0; i < n; ++i)
      if (!set[static_cast<std::size_t>(i)] &&
          !absorbing[static_cast<std::size_t>(i)] && x(i) != 0.0)
        y(i) = std::numeric_limits<double>::quiet_NaN();
    D += d * y * W.row(steps);
    G.back() += y;
    tail = y;
  }
  // Accrual and moves: the effective vector a itself depends on P.
  if (!terminal && column < K) {
    const auto &vs = seg.streams[static_cast<std::size_t>(column)];
    for (std::size_t e = 0; e < epochs.size(); ++e) {
      if (!G[e].any()) continue;
      const Vector &v = vs.stage_values.at(epochs[e].start);
      double f = 0.0;
      if (accrual == Accrual::End) f = d;
      if (accrual == Accrual::HalfCycle) f = 0.5 * std::sqrt(d);
      if (accrual == Accrual::LifeTable) f = 0.5;
      Matrix dA = Matrix::Zero(n, n);
      if (f != 0.0) dA.rowwise() += f * v.transpose();
      if (vs.transition_values.size()) dA += d * vs.transition_values;
      D += G[e].asDiagonal() * dA;
    }
  }
  // A row the customer never visits changes nothing: 0 (not the 0 * inf of a
  // product with an infinite value to go).
  for (Index i = 0; i < n; ++i) {
    // (C has no rows for periods = 0: Eigen's col() of it offsets a null pointer.)
    bool visited = tail(i) != 0.0 || (C.rows() > 0 && !C.col(i).isZero(0.0));
    for (const auto &g : G) visited = visited || g(i) != 0.0;
    if (!visited) D.row(i).setZero();
  }
  // An infinite (or undefined) metric has no derivative: nan.
  {
    double metric = 0.0;
    for (Index i = 0; i < n; ++i)
      if (seg.start(i) > 0.0) metric += seg.start(i) * W(0, i);
    if (!std::isfinite(metric))
      for (Index i = 0; i < n; ++i)
        if (!absorbing[static_cast<std::size_t>(i)])
          D.row(i).setConstant(std::numeric_limits<double>::quiet_NaN());
  }
  // Moving eps from dest[i] to j: column j minus column dest[i]; absorbing rows fixed.
  for (Index i = 0; i < n; ++i) {
    if (absorbing[static_cast<std::size_t>(i)]) {
      D.row(i).setZero();
      continue;
    }
    const double base = D(i, dest[static_cast<std::size_t>(i)]);
    D.row(i).array() -= base;
  }
  return D;
}

} // namespace

Matrix sensitivities(const Journey &journey, std::optional<int> periods,
                     Accrual accrual, Sensitivity metric,
                     const std::vector<int> &dest) {
  const auto n = journey.n_stages();
  if (dest.size() != n)
    throw std::invalid_argument("sensitivities need one destination per stage");
  for (int k : dest)
    if (k < 0 || static_cast<std::size_t>(k) >= n)
      throw std::invalid_argument("destination stage index out of range");
  if (periods && *periods < 0)
    throw std::invalid_argument("periods must be >= 0 (or none for the whole "
                                "lifetime), got " +
                                std::to_string(*periods));
  if (metric == Sensitivity::Retention && !periods)
    throw std::invalid_argument("retention needs a finite horizon");
  const auto K = static_cast<Index>(journey.n_streams());
  Matrix D = Matrix::Zero(static_cast<Index>(n), static_cast<Index>(n));
  for (const auto &seg : journey.segments()) {
    if (seg.share <= 0.0) continue;
    if (metric == Sensitivity::Value) {
      for (Index k = 0; k < K; ++k) {
        const double w = journey.net_weights()[static_cast<std::size_t>(k)];
        if (w != 0.0)
          D += seg.share * w *
               segment_sensitivity(journey, seg, periods, accrual, k, false, dest);
      }
    } else {
      D += seg.share * segment_sensitivity(journey, seg, periods, accrual, K,
                                           metric == Sensitivity::Retention, dest);
    }
  }
  return D;
}

} // namespace journeysim
