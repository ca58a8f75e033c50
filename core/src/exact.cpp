#include "journeysim/exact.hpp"

#include "compensated.hpp"
#include "journeysim/graph.hpp"
#include "journeysim/linalg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

namespace journeysim {
namespace {

using Index = Eigen::Index;
using RowVector = Eigen::RowVectorXd;
using detail::CompensatedSum;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Everything that is constant between two consecutive tenure breakpoints of a
// segment: the matrix in force and the effective per-stage value vectors.
struct Epoch {
  int start = 0;
  const Matrix *P = nullptr;
  std::optional<Propagator> prop; // x P and P W, dense or sparse
  Matrix A;         // S x (K+1): streams (discounted convention), then "alive"
  Matrix A_nominal; // S x K: streams with d = 1, for undiscounted amounts
};

Vector effective(const Matrix &P, const Vector &v, const Matrix &moves, double d,
                 Accrual accrual) {
  Vector a;
  switch (accrual) {
  case Accrual::Start:
    a = v;
    break;
  case Accrual::End:
    a = d * (P * v);
    break;
  case Accrual::HalfCycle:
    a = std::sqrt(d) * 0.5 * (v + P * v);
    break;
  }
  if (moves.size() != 0) a += d * P.cwiseProduct(moves).rowwise().sum();
  return a;
}

// Per-period discount factor of each stream, then 1 for the "alive" column.
Vector discount_factors(const Segment &seg) {
  const auto K = static_cast<Index>(seg.streams.size());
  Vector dvec(K + 1);
  for (Index k = 0; k < K; ++k)
    dvec(k) = 1.0 / (1.0 + seg.streams[static_cast<std::size_t>(k)].discount_rate);
  dvec(K) = 1.0;
  return dvec;
}

std::vector<Epoch> make_epochs(const Segment &seg, const std::vector<bool> &absorbing,
                               const Vector &dvec, Accrual accrual) {
  std::set<int> starts(seg.transitions.starts.begin(), seg.transitions.starts.end());
  for (const auto &vs : seg.streams)
    starts.insert(vs.stage_values.starts.begin(), vs.stage_values.starts.end());
  const auto n = static_cast<Index>(absorbing.size());
  const auto K = static_cast<Index>(seg.streams.size());
  std::vector<Epoch> epochs;
  for (int t : starts) {
    Epoch e;
    e.start = t;
    e.P = &seg.transitions.at(t);
    e.prop.emplace(*e.P);
    e.A.resize(n, K + 1);
    e.A_nominal.resize(n, K);
    for (Index k = 0; k < K; ++k) {
      const auto &vs = seg.streams[static_cast<std::size_t>(k)];
      const Vector &v = vs.stage_values.at(t);
      e.A.col(k) = effective(*e.P, v, vs.transition_values, dvec(k), accrual);
      e.A_nominal.col(k) = effective(*e.P, v, vs.transition_values, 1.0, accrual);
    }
    for (Index i = 0; i < n; ++i)
      e.A(i, K) = absorbing[static_cast<std::size_t>(i)] ? 0.0 : 1.0;
    epochs.push_back(std::move(e));
  }
  return epochs;
}

std::size_t epoch_at(const std::vector<Epoch> &epochs, long tenure) {
  std::size_t e = 0;
  while (e + 1 < epochs.size() && epochs[e + 1].start <= tenure) ++e;
  return e;
}

bool all_finite(const Matrix &M) { return M.allFinite(); }

// Column sums, compensated (a column can hold thousands of periods); zeros
// for a matrix with no rows (periods = 0).
Vector column_sums(const Matrix &M) {
  Vector out = Vector::Zero(M.cols());
  for (Index c = 0; c < M.cols(); ++c) {
    CompensatedSum acc;
    for (Index r = 0; r < M.rows(); ++r) acc.add(M(r, c));
    out(c) = acc.value();
  }
  return out;
}

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", x);
  return buf;
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", x);
  return buf;
}

// P * W where W may hold infinities: terms with P_ij == 0 contribute nothing.
Matrix safe_product(const Propagator &prop, const Matrix &W) {
  if (all_finite(W)) return prop.right(W);
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

double spectral_radius(const Matrix &Q) {
  if (Q.rows() == 0) return 0.0;
  Eigen::EigenSolver<Eigen::MatrixXd> es(Eigen::MatrixXd(Q), false);
  return es.eigenvalues().cwiseAbs().maxCoeff();
}

// Factorisations of I - d P[set, set], shared by the whole-lifetime values and
// the absorption probabilities (which often need the same one).
class SolverCache {
public:
  explicit SolverCache(const Matrix &P) : P_(P) {}
  const FundamentalSolver &get(double d, const std::vector<bool> &set) {
    auto key = std::make_pair(d, set);
    auto it = cache_.find(key);
    if (it == cache_.end())
      it = cache_
               .emplace(std::move(key),
                        std::make_unique<FundamentalSolver>(P_, indices_of(set), d))
               .first;
    return *it->second;
  }
  // The worst-conditioned undiscounted factorisation (I - Q itself), or nullptr.
  // Discounted ones (d < 1) are left out: with a tiny discount rate their
  // condition number is about 1 / (1 - d) on any closed class, which says
  // nothing about the journey, and they are never worse conditioned than I - Q.
  [[nodiscard]] const FundamentalSolver *worst() const {
    const FundamentalSolver *w = nullptr;
    for (const auto &kv : cache_)
      if (kv.first.first == 1.0 && (!w || kv.second->condition() > w->condition()))
        w = kv.second.get();
    return w;
  }

private:
  const Matrix &P_;
  std::map<std::pair<double, std::vector<bool>>, std::unique_ptr<FundamentalSolver>>
      cache_;
};

// The warning for an ill-conditioned fundamental matrix, naming its condition
// number and what it means for the precision of the results.
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

// A whole-lifetime value the series says is finite, computed infinite: overflow.
template <class V> void check_overflow(const V &w) {
  if (!w.allFinite())
    throw std::invalid_argument(
        "the whole-lifetime values overflow double precision (about 1.8e308): values "
        "are too large for them (rescale them, e.g. to thousands)");
}

// The whole-lifetime value W = sum_{n>=0} d^n P^n a of a stationary chain, column
// by column (each column with its own d). For d < 1 the series always converges
// and W = (I - dP)^-1 a. For d >= 1 it diverges from exactly the stages that can
// reach an "explosive" class (a communicating class C with d * rho(P_C) >= 1:
// every closed class, and for d > 1 also slowly leaking ones) from which a
// nonzero value can be reached; there W is +inf or -inf by the sign of the values
// reachable from such classes (nan if both). W is 0 where only zero values can be
// reached, and a regular solve elsewhere.
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

// Probability of ending in each absorbing stage (S x number of absorbing
// stages, in stage order) for the stationary chain. Stages that can never be
// absorbed get 0.
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

// The chain in which value stages are made absorbing: first passage into them.
Matrix stop_at(const Matrix &P, const std::vector<bool> &target) {
  Matrix Pm = P;
  for (std::size_t i = 0; i < target.size(); ++i)
    if (target[i]) {
      const auto ii = static_cast<Index>(i);
      Pm.row(ii).setZero();
      Pm(ii, ii) = 1.0;
    }
  return Pm;
}

Analysis analyze_segment(const Journey &journey, const Segment &seg, int T,
                         Accrual accrual) {
  const auto n = static_cast<Index>(journey.n_stages());
  const auto K = static_cast<Index>(journey.n_streams());
  const auto &absorbing = journey.absorbing();
  const Vector dvec = discount_factors(seg);
  const auto epochs = make_epochs(seg, absorbing, dvec, accrual);

  Analysis r;
  r.periods = T;

  // Forward: occupancy and value by period.
  r.occupancy.resize(T + 1, n);
  r.value_by_period.resize(T, K);
  r.value_by_period_nominal.resize(T, K);
  r.entries.resize(T, n);
  RowVector x = seg.start.transpose();
  r.occupancy.row(0) = x;
  std::size_t e = 0;
  // Occupancy summed over the periods of each epoch: flows are diag(y) P.
  std::vector<RowVector> in_epoch(epochs.size(), RowVector::Zero(n));
  CompensatedSum life_h;
  for (int k = 1; k <= T; ++k) {
    while (e + 1 < epochs.size() && epochs[e + 1].start <= k - 1) ++e;
    const Epoch &ep = epochs[e];
    const RowVector v = x * ep.A;
    for (Index c = 0; c < K; ++c)
      r.value_by_period(k - 1, c) = std::pow(dvec(c), k - 1) * v(c);
    life_h.add(v(K));
    r.value_by_period_nominal.row(k - 1) = x * ep.A_nominal;
    in_epoch[e] += x;
    const RowVector next = ep.prop->left(x);
    // Entering j in period k: everyone in j at k, less those who stayed in j.
    r.entries.row(k - 1) = next - x.cwiseProduct(ep.P->diagonal().transpose());
    x = next;
    r.occupancy.row(k) = x;
  }
  r.lifetime_horizon = life_h.value();
  r.flows = Matrix::Zero(n, n);
  for (std::size_t q = 0; q < epochs.size(); ++q)
    if ((in_epoch[q].array() != 0.0).any())
      r.flows += in_epoch[q].transpose().asDiagonal() * (*epochs[q].P);
  r.flows.diagonal().setZero();
  r.value = column_sums(r.value_by_period);

  // Backward over the horizon: value to go from each stage at tenure 0.
  Matrix W = Matrix::Zero(n, K + 1);
  for (int k = T; k >= 1; --k) {
    const Epoch &ep = epochs[epoch_at(epochs, k - 1)];
    W = ep.A + ep.prop->right(W) * dvec.asDiagonal();
  }
  r.stage_value = W.leftCols(K);
  r.stage_lifetime_horizon = W.col(K);

  // Whole lifetime: solve the stationary tail, then step back through the pieces.
  const Epoch &last = epochs.back();
  SolverCache solvers(*last.P);
  Matrix Winf = whole_lifetime(*last.P, last.A, dvec, solvers);
  Matrix H = stationary_absorption(*last.P, absorbing, solvers);
  for (int k = last.start; k >= 1; --k) {
    const Epoch &ep = epochs[epoch_at(epochs, k - 1)];
    Winf = ep.A + safe_product(*ep.prop, Winf) * dvec.asDiagonal();
    H = ep.prop->right(H);
  }
  if (const FundamentalSolver *w = solvers.worst()) {
    r.condition = w->condition();
    if (r.condition > kIllConditioned)
      r.condition_warnings.push_back(condition_warning(*w));
  }
  r.stage_value_infinite = Winf.leftCols(K);
  r.stage_lifetime = Winf.col(K);
  {
    const Vector hb = (seg.start.transpose() * H).transpose();
    r.absorption = Vector::Zero(n);
    Index c = 0;
    for (Index i = 0; i < n; ++i)
      if (absorbing[static_cast<std::size_t>(i)]) r.absorption(i) = hb(c++);
  }
  const RowVector s0 = seg.start.transpose();
  auto dot_safe = [&](const Vector &w) {
    double acc = 0.0;
    for (Index i = 0; i < n; ++i)
      if (s0(i) > 0.0) acc += s0(i) * w(i);
    return acc;
  };
  r.value_infinite.resize(K);
  for (Index c = 0; c < K; ++c) r.value_infinite(c) = dot_safe(Winf.col(c));
  r.lifetime = dot_safe(Winf.col(K));
  {
    std::vector<std::string> never;
    const auto absorbable = can_reach(*last.P, absorbing);
    for (Index i = 0; i < n; ++i)
      if (std::isinf(r.stage_lifetime(i)) && !absorbable[static_cast<std::size_t>(i)])
        never.push_back(journey.stages()[static_cast<std::size_t>(i)]);
    if (!never.empty()) {
      std::string names;
      for (const auto &s : never) names += (names.empty() ? "'" : ", '") + s + "'";
      r.warnings.push_back(
          "stage" + std::string(never.size() > 1 ? "s " : " ") + names +
          " can never be absorbed: the expected lifetime from " +
          (never.size() > 1 ? "them" : "it") + ", and from any stage that can reach " +
          (never.size() > 1 ? "them" : "it") + ", is infinite");
    }
  }

  // Time to value: first passage into the value stages.
  r.value_reached = Vector::Constant(T + 1, kNaN);
  r.ttv_reached = kNaN;
  r.ttv_mean = kNaN;
  if (!journey.value_stages().empty()) {
    std::vector<bool> target(static_cast<std::size_t>(n), false);
    for (int v : journey.value_stages()) target[static_cast<std::size_t>(v)] = true;
    std::vector<Matrix> modified;
    for (const auto &ep : epochs) modified.push_back(stop_at(*ep.P, target));
    std::vector<Propagator> mprop;
    for (const auto &m : modified) mprop.emplace_back(m);
    const auto tidx = indices_of(target);
    auto reached = [&](const RowVector &y) {
      double s = 0.0;
      for (Index j : tidx) s += y(j);
      return s;
    };
    RowVector y = seg.start.transpose();
    r.value_reached(0) = reached(y);
    std::size_t f = 0;
    for (int k = 1; k <= T; ++k) {
      while (f + 1 < epochs.size() && epochs[f + 1].start <= k - 1) ++f;
      y = mprop[f].left(y);
      r.value_reached(k) = reached(y);
    }
    // h: probability of ever reaching; g: E[first-passage time; reached].
    const Matrix &Pm = modified.back();
    const auto reach = can_reach(Pm, target);
    std::vector<bool> open(target.size());
    for (std::size_t i = 0; i < open.size(); ++i) open[i] = reach[i] && !target[i];
    const auto o = indices_of(open);
    Vector h = Vector::Zero(n), g = Vector::Zero(n);
    for (Index j : tidx) h(j) = 1.0;
    if (!o.empty()) {
      const auto m = static_cast<Index>(o.size());
      const FundamentalSolver lu(Pm, o, 1.0);
      if (lu.condition() > r.condition) {
        r.condition = lu.condition();
        if (r.condition > kIllConditioned)
          r.condition_warnings = {condition_warning(lu) +
                                  " (In the chain that stops at the value stages.)"};
      }
      Vector rhs(m);
      for (Index q = 0; q < m; ++q) {
        double s = 0.0;
        for (Index j : tidx) s += Pm(o[static_cast<std::size_t>(q)], j);
        rhs(q) = s;
      }
      const Vector ho = lu.solve(rhs);
      const Vector go = lu.solve(ho);
      for (Index q = 0; q < m; ++q) {
        h(o[static_cast<std::size_t>(q)]) = ho(q);
        g(o[static_cast<std::size_t>(q)]) = go(q);
      }
    }
    for (int k = epochs.back().start; k >= 1; --k) {
      const Propagator &Pk = mprop[epoch_at(epochs, k - 1)];
      const Matrix gh = g + h;
      h = Pk.right(h);
      g = Pk.right(gh);
      for (Index j : tidx) g(j) = 0.0;
    }
    r.ttv_reached = seg.start.dot(h);
    r.ttv_mean = r.ttv_reached > 0.0 ? seg.start.dot(g) / r.ttv_reached : kNaN;
  }
  return r;
}

// Appends the net-value column (weighted sum of the streams) to a K-column block.
Matrix with_net(const Matrix &M, const std::vector<double> &w) {
  Matrix out(M.rows(), M.cols() + 1);
  out.leftCols(M.cols()) = M;
  for (Index i = 0; i < M.rows(); ++i) {
    double s = 0.0;
    for (Index k = 0; k < M.cols(); ++k)
      if (w[static_cast<std::size_t>(k)] != 0.0)
        s += w[static_cast<std::size_t>(k)] * M(i, k);
    out(i, M.cols()) = s;
  }
  return out;
}

Vector with_net(const Vector &v, const std::vector<double> &w) {
  return with_net(Matrix(v.transpose()), w).row(0).transpose();
}

// Adds the net column everywhere and derives retention.
void finish(Analysis &r, const Journey &journey) {
  const auto &w = journey.net_weights();
  r.value_by_period = with_net(r.value_by_period, w);
  r.value_by_period_nominal = with_net(r.value_by_period_nominal, w);
  r.value = with_net(r.value, w);
  r.value_infinite = with_net(r.value_infinite, w);
  r.stage_value = with_net(r.stage_value, w);
  r.stage_value_infinite = with_net(r.stage_value_infinite, w);
  r.retention = Vector::Ones(r.occupancy.rows());
  for (std::size_t j = 0; j < journey.absorbing().size(); ++j)
    if (journey.absorbing()[j]) r.retention -= r.occupancy.col(static_cast<Index>(j));
}

// Weighted sum that treats 0 * inf as 0 (a segment with no share adds nothing).
template <class M> void accumulate(M &acc, const M &x, double share) {
  if (share > 0.0) acc += share * x;
}

// Population figures: `scale` times (the starting cohort plus arrivals, each
// cohort on its own tenure clock); scale is a segment's share for its part.
void add_population(Analysis &r, const Journey &journey, double scale) {
  const int T = r.periods;
  const double N0 = scale * journey.cohort_size();
  const auto K1 = r.value_by_period.cols();
  r.population = N0 * r.occupancy;
  r.population_entries = N0 * r.entries;
  r.population_value_by_period = N0 * r.value_by_period;
  r.population_value_by_period_nominal = N0 * r.value_by_period_nominal;
  if (journey.has_arrivals()) {
    const auto &seg0 = journey.segments()[0];
    Vector dvec = Vector::Ones(K1);
    for (Index k = 0; k + 1 < K1; ++k)
      dvec(k) = 1.0 / (1.0 + seg0.streams[static_cast<std::size_t>(k)].discount_rate);
    if (journey.spec().arrivals_constant) {
      // The same a at every t >= 1: the convolutions are running sums, O(T S):
      //   population(t)  += a sum_{u < t} occupancy(u)
      //   entries(c)     += a sum_{u < c - 1} entries(u)            (periods c = 1..T)
      //   value(c)       += a D(c), D(1) = 0, D(c + 1) = d (D(c) + value(c - 1))
      const double a = scale * journey.arrivals_at(1);
      std::vector<CompensatedSum> occ(static_cast<std::size_t>(r.occupancy.cols())),
          ent(static_cast<std::size_t>(r.entries.cols())),
          nom(static_cast<std::size_t>(K1));
      Vector D = Vector::Zero(K1);
      for (int t = 1; t <= T; ++t) {
        for (Index j = 0; j < r.occupancy.cols(); ++j) {
          occ[static_cast<std::size_t>(j)].add(r.occupancy(t - 1, j));
          r.population(t, j) += a * occ[static_cast<std::size_t>(j)].value();
        }
        if (t >= 2) {
          for (Index j = 0; j < r.entries.cols(); ++j) {
            ent[static_cast<std::size_t>(j)].add(r.entries(t - 2, j));
            r.population_entries(t - 1, j) +=
                a * ent[static_cast<std::size_t>(j)].value();
          }
          for (Index k = 0; k + 1 < K1; ++k) {
            D(k) = dvec(k) * (D(k) + r.value_by_period(t - 2, k));
            r.population_value_by_period(t - 1, k) += a * D(k);
            nom[static_cast<std::size_t>(k)].add(r.value_by_period_nominal(t - 2, k));
            r.population_value_by_period_nominal(t - 1, k) +=
                a * nom[static_cast<std::size_t>(k)].value();
          }
          // The nominal net column is a fixed combination: accumulate it too.
          nom[static_cast<std::size_t>(K1 - 1)].add(
              r.value_by_period_nominal(t - 2, K1 - 1));
          r.population_value_by_period_nominal(t - 1, K1 - 1) +=
              a * nom[static_cast<std::size_t>(K1 - 1)].value();
        }
      }
    } else {
      for (int s = 1; s <= T; ++s) {
        const double a = scale * journey.arrivals_at(s);
        if (a == 0.0) continue;
        for (int t = s; t <= T; ++t) r.population.row(t) += a * r.occupancy.row(t - s);
        for (int c = s + 1; c <= T; ++c)
          r.population_entries.row(c - 1) += a * r.entries.row(c - s - 1);
        Vector disc(K1);
        for (Index k = 0; k < K1; ++k) disc(k) = a * std::pow(dvec(k), s);
        disc(K1 - 1) = 0.0; // net is rebuilt below
        // Calendar period c holds period c - s of the cohort that joined at s.
        for (int c = s + 1; c <= T; ++c) {
          r.population_value_by_period.row(c - 1) +=
              r.value_by_period.row(c - s - 1).cwiseProduct(disc.transpose());
          r.population_value_by_period_nominal.row(c - 1) +=
              a * r.value_by_period_nominal.row(c - s - 1);
        }
      }
    }
    // The net column mixes streams with different rates: rebuild it from them.
    const auto &w = journey.net_weights();
    const Index K = K1 - 1;
    r.population_value_by_period =
        with_net(Matrix(r.population_value_by_period.leftCols(K)), w);
  }
  r.population_value = column_sums(r.population_value_by_period);
}

// Throws if any entry of a result over the horizon is not finite: with finite
// inputs that can only be an overflow of double precision.
template <class M> void check_finite(const M &x, const char *what, int periods) {
  if (x.allFinite()) return;
  throw std::invalid_argument(
      std::string("the analysis overflows double precision (about 1.8e308): ") + what +
      " over " + std::to_string(periods) +
      " periods is not finite; values, cohort size or arrivals are too large for "
      "it (rescale them, e.g. to thousands) or a discount rate is too close to -1");
}

void check_results(const Analysis &r) {
  const int T = r.periods;
  check_finite(r.occupancy, "occupancy", T);
  check_finite(r.population, "the population", T);
  check_finite(r.entries, "entries", T);
  check_finite(r.population_entries, "the population's entries", T);
  check_finite(r.value_by_period, "value by period", T);
  check_finite(r.value_by_period_nominal, "undiscounted value by period", T);
  check_finite(r.population_value_by_period, "the population's value by period", T);
  check_finite(r.population_value_by_period_nominal,
               "the population's undiscounted value by period", T);
  check_finite(r.value, "value", T);
  check_finite(r.population_value, "the population's value", T);
  check_finite(r.stage_value, "value by stage", T);
}

} // namespace

void check_discounting(const Journey &journey, int periods) {
  // log of the largest factor d^k, k <= periods, must stay well inside the
  // double range (values multiply it); 700 is e^700 = 1e304.
  for (const auto &vs : journey.segments()[0].streams) {
    const double r = vs.discount_rate;
    const double log_d = -std::log1p(r);
    if (log_d * periods > 700.0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.0f", log_d * periods / std::log(10.0));
      throw std::invalid_argument(
          "value stream '" + vs.name + "': a discount rate of " + num(r) + " over " +
          std::to_string(periods) +
          " periods gives discount factors (1 + r)^-k up to 1e" + buf +
          ", beyond double precision (about 1e308): use fewer periods or a rate "
          "further from -1");
    }
  }
}

double analysis_memory(const Journey &journey, int periods) {
  const double T1 = static_cast<double>(periods) + 1.0;
  const auto S = static_cast<double>(journey.n_stages());
  const double K1 = static_cast<double>(journey.n_streams()) + 1.0;
  const auto G = static_cast<double>(journey.segments().size());
  // Per analysis: occupancy, population, entries and their population (T+1 x S),
  // four value tables (T x K+1), retention and value reached; one per segment
  // and one for the mixture when there are several.
  const double tables = (4.0 * T1 * S + 4.0 * T1 * K1 + 2.0 * T1) * 8.0;
  const double copies = G > 1.0 ? G + 1.0 : 1.0;
  // Working memory: dense copies of a matrix and its factorisation, the
  // value-to-go matrices.
  const double work = 4.0 * S * S * 8.0 + 4.0 * S * K1 * 8.0;
  return copies * tables + work;
}

Analysis analyze(const Journey &journey, int periods, Accrual accrual) {
  if (periods < 0)
    throw std::invalid_argument("periods must be >= 0, got " + std::to_string(periods));
  check_discounting(journey, periods);
  const int T = periods;
  const auto &segs = journey.segments();
  std::vector<Analysis> parts;
  for (const auto &seg : segs) {
    parts.push_back(analyze_segment(journey, seg, T, accrual));
    finish(parts.back(), journey);
  }

  Analysis r;
  if (parts.size() == 1) {
    r = std::move(parts[0]);
    parts.clear();
  } else {
    const auto n = static_cast<Index>(journey.n_stages());
    const auto K1 = static_cast<Index>(journey.n_streams()) + 1;
    r.periods = T;
    r.occupancy = Matrix::Zero(T + 1, n);
    r.entries = Matrix::Zero(T, n);
    r.flows = Matrix::Zero(n, n);
    r.value_by_period = Matrix::Zero(T, K1);
    r.value_by_period_nominal = Matrix::Zero(T, K1);
    r.value = Vector::Zero(K1);
    r.value_infinite = Vector::Zero(K1);
    r.absorption = Vector::Zero(n);
    r.value_reached = Vector::Zero(T + 1);
    r.stage_lifetime = Vector::Zero(n);
    r.stage_lifetime_horizon = Vector::Zero(n);
    r.stage_value = Matrix::Zero(n, K1);
    r.stage_value_infinite = Matrix::Zero(n, K1);
    double ttv_g = 0.0;
    for (std::size_t s = 0; s < parts.size(); ++s) {
      const double w = segs[s].share;
      const Analysis &p = parts[s];
      accumulate(r.occupancy, p.occupancy, w);
      accumulate(r.entries, p.entries, w);
      accumulate(r.flows, p.flows, w);
      accumulate(r.value_by_period, p.value_by_period, w);
      accumulate(r.value_by_period_nominal, p.value_by_period_nominal, w);
      accumulate(r.value, p.value, w);
      accumulate(r.value_infinite, p.value_infinite, w);
      accumulate(r.absorption, p.absorption, w);
      accumulate(r.value_reached, p.value_reached, w);
      accumulate(r.stage_lifetime, p.stage_lifetime, w);
      accumulate(r.stage_lifetime_horizon, p.stage_lifetime_horizon, w);
      accumulate(r.stage_value, p.stage_value, w);
      accumulate(r.stage_value_infinite, p.stage_value_infinite, w);
      if (w > 0.0) {
        r.lifetime_horizon += w * p.lifetime_horizon;
        r.lifetime += w * p.lifetime;
        r.ttv_reached += w * p.ttv_reached;
        if (p.ttv_reached > 0.0) ttv_g += w * p.ttv_reached * p.ttv_mean;
      }
      if (w > 0.0) { // a segment with no customers has nothing to warn about
        for (const auto &msg : p.warnings)
          r.warnings.push_back("segment '" + segs[s].name + "': " + msg);
        r.condition = std::max(r.condition, p.condition);
        for (const auto &msg : p.condition_warnings)
          r.condition_warnings.push_back("segment '" + segs[s].name + "': " + msg);
      }
    }
    r.ttv_mean = r.ttv_reached > 0.0 ? ttv_g / r.ttv_reached : kNaN;
    r.retention = Vector::Ones(T + 1);
    for (std::size_t j = 0; j < journey.absorbing().size(); ++j)
      if (journey.absorbing()[j]) r.retention -= r.occupancy.col(static_cast<Index>(j));
    r.segments = std::move(parts);
  }

  add_population(r, journey, 1.0);
  for (std::size_t g = 0; g < r.segments.size(); ++g)
    add_population(r.segments[g], journey, segs[g].share);
  check_results(r);
  return r;
}

} // namespace journeysim

namespace journeysim {

Vector first_visits(const Journey &journey, std::size_t segment,
                    const std::vector<int> &stages, int from, int until) {
  if (segment >= journey.segments().size())
    throw std::out_of_range("segment index " + std::to_string(segment) +
                            " out of range");
  for (int stage : stages)
    if (stage < 0 || static_cast<std::size_t>(stage) >= journey.n_stages())
      throw std::out_of_range("stage index " + std::to_string(stage) + " out of range");
  if (from < 0 || until < from)
    throw std::invalid_argument("first_visits needs 0 <= from <= until");
  const Segment &seg = journey.segments()[segment];
  Vector f = Vector::Zero(until - from);
  RowVector x = seg.start.transpose();
  for (int tau = 0; tau < until; ++tau) {
    if (tau >= from) {
      // Those in the stages now are there for the first time in the window.
      for (int stage : stages) {
        f(tau - from) += x(stage);
        x(stage) = 0.0;
      }
    }
    if (tau + 1 < until) x = x * seg.transitions.at(tau);
  }
  return f;
}

} // namespace journeysim

namespace journeysim {
namespace {

// d metric / d eps for one segment, where eps of row i's probability moves from
// dest[i] to j (in every tenure piece). `column` < K is a value stream, K the
// "alive" column (lifetime); `terminal` adds the transient indicator at T
// (retention at T). T < 0: whole lifetime.
Matrix segment_sensitivity(const Journey &journey, const Segment &seg, int T,
                           Accrual accrual, Index column, bool terminal,
                           const std::vector<int> &dest) {
  const auto n = static_cast<Index>(journey.n_stages());
  const auto K = static_cast<Index>(journey.n_streams());
  const auto &absorbing = journey.absorbing();
  const Vector dvec = discount_factors(seg);
  const auto epochs = make_epochs(seg, absorbing, dvec, accrual);
  const double d = dvec(column);
  const bool whole = T < 0;
  const int L = epochs.back().start;
  const int steps = whole ? L : T; // periods handled one by one
  Matrix A(n, epochs.size());      // effective per-stage vector of the column
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

Matrix sensitivities(const Journey &journey, int periods, Accrual accrual,
                     Sensitivity metric, const std::vector<int> &dest) {
  const auto n = journey.n_stages();
  if (dest.size() != n)
    throw std::invalid_argument("sensitivities need one destination per stage");
  for (int k : dest)
    if (k < 0 || static_cast<std::size_t>(k) >= n)
      throw std::invalid_argument("destination stage index out of range");
  if (metric == Sensitivity::Retention && periods < 0)
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
