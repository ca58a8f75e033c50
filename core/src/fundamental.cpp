// Absorbing-chain analytics through the fundamental matrix I - dQ: whole-lifetime
// values (finite, or infinite where the series diverges), absorption
// probabilities, and the warning for an ill-conditioned system.
#include "exact_detail.hpp"

#include "journeysim/graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace journeysim::detail {
namespace {

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", x);
  return buf;
}

double spectral_radius(const Matrix &Q) {
  if (Q.rows() == 0) return 0.0;
  Eigen::EigenSolver<Eigen::MatrixXd> es(Eigen::MatrixXd(Q), false);
  return es.eigenvalues().cwiseAbs().maxCoeff();
}

// A whole-lifetime value the series says is finite, computed infinite: overflow.
template <class V> void check_overflow(const V &w) {
  if (!w.allFinite())
    throw std::invalid_argument(
        "the whole-lifetime values overflow double precision (about 1.8e308): values "
        "are too large for them (rescale them, e.g. to thousands)");
}

} // namespace

Matrix safe_product(const Propagator &prop, const Matrix &W) {
  if (W.allFinite()) return prop.right(W);
  const Matrix &P = prop.dense();
  Matrix out = Matrix::Zero(P.rows(), W.cols());
  for (Index i = 0; i < P.rows(); ++i)
    for (Index j = 0; j < P.cols(); ++j) {
      const double p = P(i, j);
      if (p > 0.0) out.row(i) += p * W.row(j);
    }
  return out;
}

std::vector<Index> indices_of(const std::vector<bool> &flag) {
  std::vector<Index> idx;
  for (std::size_t i = 0; i < flag.size(); ++i)
    if (flag[i]) idx.push_back(static_cast<Index>(i));
  return idx;
}

Matrix submatrix(const Matrix &P, const std::vector<Index> &rows,
                 const std::vector<Index> &cols) {
  Matrix out(static_cast<Index>(rows.size()), static_cast<Index>(cols.size()));
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < cols.size(); ++c)
      out(static_cast<Index>(r), static_cast<Index>(c)) = P(rows[r], cols[c]);
  return out;
}

const FundamentalSolver &SolverCache::get(double d, const std::vector<bool> &set) {
  auto key = std::make_pair(d, set);
  auto it = cache_.find(key);
  if (it == cache_.end())
    it = cache_
             .emplace(std::move(key),
                      std::make_unique<FundamentalSolver>(P_, indices_of(set), d))
             .first;
  return *it->second;
}

const FundamentalSolver *SolverCache::worst() const {
  const FundamentalSolver *w = nullptr;
  for (const auto &kv : cache_)
    if (kv.first.first == 1.0 && (!w || kv.second->condition() > w->condition()))
      w = kv.second.get();
  return w;
}

std::string condition_warning(const FundamentalSolver &s) {
  const double c = s.condition();
  // Clamped before the cast: c may be infinite (a singular I - Q), and an
  // infinite double converted to int is undefined behaviour.
  const int digits = static_cast<int>(std::min(16.0, std::floor(std::log10(c))));
  std::string msg = "the fundamental matrix I - Q of the whole-lifetime results is "
                    "ill-conditioned: condition number " +
                    sci(c) + " (infinity norm, above " + sci(kIllConditioned) +
                    "): customers can stay about " + sci(0.5 * c) +
                    " periods before they leave the transient stages. ";
  if (s.subtraction_free())
    msg += "Expected lifetimes, absorption probabilities and times to value were "
           "computed by a subtraction-free (GTH) elimination and keep about 12 "
           "significant digits or more; whole-lifetime values with gains and costs may "
           "lose digits where they cancel. Check that the journey is meant to be "
           "so nearly closed.";
  else
    msg += "Expected lifetimes, whole-lifetime values, absorption probabilities and "
           "times to value may have lost up to " +
           std::to_string(digits) + " of their 16 significant digits.";
  return msg;
}

Matrix whole_lifetime(const Matrix &P, const Matrix &A, const Vector &dvec,
                      SolverCache &solvers) {
  const Index n = P.rows();
  const auto nn = static_cast<std::size_t>(n);
  Matrix W(n, A.cols());
  const Components cc = components(P);
  std::map<double, std::vector<bool>> explosive_by_d; // per d: state in explosive class
  for (Index c = 0; c < A.cols(); ++c) {
    const double d = dvec(c);
    const Vector a = A.col(c);
    if (d < 1.0) {
      W.col(c) = solvers.get(d, std::vector<bool>(nn, true)).solve(a);
      check_overflow(W.col(c));
      continue;
    }
    auto ex = explosive_by_d.find(d);
    if (ex == explosive_by_d.end()) {
      std::vector<bool> flag(nn, false);
      for (int k = 0; k < cc.count; ++k) {
        const auto &members = cc.members[static_cast<std::size_t>(k)];
        bool explosive = cc.closed[static_cast<std::size_t>(k)];
        if (!explosive && d > 1.0)
          explosive = d * spectral_radius(submatrix(P, members, members)) >= 1.0;
        if (explosive)
          for (Index i : members) flag[static_cast<std::size_t>(i)] = true;
      }
      ex = explosive_by_d.emplace(d, std::move(flag)).first;
    }
    std::vector<bool> nonzero(nn), hot(nn), zero(nn);
    for (std::size_t i = 0; i < nn; ++i) nonzero[i] = a(static_cast<Index>(i)) != 0.0;
    const auto reach_nonzero = can_reach(P, nonzero);
    for (std::size_t i = 0; i < nn; ++i) {
      hot[i] = ex->second[i] && reach_nonzero[i];
      zero[i] = !reach_nonzero[i];
    }
    const auto diverges = can_reach(P, hot);
    const auto from_hot = reachable_from(P, hot);
    std::vector<bool> pos(nn), neg(nn), good(nn);
    for (std::size_t i = 0; i < nn; ++i) {
      pos[i] = from_hot[i] && a(static_cast<Index>(i)) > 0.0;
      neg[i] = from_hot[i] && a(static_cast<Index>(i)) < 0.0;
      good[i] = !diverges[i] && !zero[i];
    }
    const auto reach_pos = can_reach(P, pos), reach_neg = can_reach(P, neg);
    W.col(c).setZero();
    const auto g = indices_of(good);
    if (!g.empty()) {
      // Good stages only lead to good or zero-value stages (W = 0 there).
      Vector ag(static_cast<Index>(g.size()));
      for (std::size_t r = 0; r < g.size(); ++r) ag(static_cast<Index>(r)) = a(g[r]);
      const Vector wg = solvers.get(d, good).solve(ag);
      check_overflow(wg);
      for (std::size_t r = 0; r < g.size(); ++r) W(g[r], c) = wg(static_cast<Index>(r));
    }
    for (std::size_t i = 0; i < nn; ++i)
      if (diverges[i]) {
        const bool p = reach_pos[i], q = reach_neg[i];
        W(static_cast<Index>(i), c) = p && !q ? kInf : (q && !p ? -kInf : kNaN);
      }
  }
  return W;
}

Matrix stationary_absorption(const Matrix &P, const std::vector<bool> &absorbing,
                             SolverCache &solvers) {
  const auto reach = can_reach(P, absorbing);
  std::vector<bool> escapes(absorbing.size());
  for (std::size_t i = 0; i < escapes.size(); ++i)
    escapes[i] = !absorbing[i] && reach[i];
  const auto e = indices_of(escapes);
  const auto b = indices_of(absorbing);
  Matrix H = Matrix::Zero(P.rows(), static_cast<Index>(b.size()));
  for (std::size_t c = 0; c < b.size(); ++c) H(b[c], static_cast<Index>(c)) = 1.0;
  if (!e.empty() && !b.empty()) {
    const Matrix HE = solvers.get(1.0, escapes).solve(submatrix(P, e, b));
    for (std::size_t r = 0; r < e.size(); ++r)
      H.row(e[r]) = HE.row(static_cast<Index>(r));
  }
  return H;
}

} // namespace journeysim::detail
