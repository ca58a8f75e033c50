// The journey as a Markov chain (chain.hpp): classes, stationary
// distributions, first passage, expected visits and first returns.
#include "journeysim/chain.hpp"

#include "exact_detail.hpp"
#include "journeysim/graph.hpp"
#include "journeysim/linalg.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace journeysim {
namespace detail {
namespace {

// First passage in a stationary chain Pm whose target and avoided stages are
// already made to stop everyone. On the stages O that can still reach the
// target, with N = (I - Pm[O, O])^-1: h = N Pm[O, target] 1, the complement
// q = N Pm[O, elsewhere] 1 (elsewhere: outside O and the target, where the
// target is out of reach), and g = E[T; reached] = N h. Every right-hand side
// is non-negative, so the subtraction-free solver keeps them accurate.
Passage stationary_passage(const Matrix &Pm, const std::vector<bool> &target,
                           const std::vector<bool> &stop) {
  const Index n = Pm.rows();
  const auto reach = can_reach(Pm, target);
  std::vector<bool> open(target.size());
  for (std::size_t i = 0; i < open.size(); ++i) open[i] = reach[i] && !stop[i];
  Passage p;
  p.h = Vector::Zero(n);
  p.q = Vector::Zero(n);
  p.g = Vector::Zero(n);
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i])
      p.h(static_cast<Index>(i)) = 1.0;
    else if (!open[i])
      p.q(static_cast<Index>(i)) = 1.0;
  }
  const auto o = indices_of(open);
  if (o.empty()) return p;
  const auto m = static_cast<Index>(o.size());
  const FundamentalSolver lu(Pm, o, 1.0);
  p.condition = lu.condition();
  if (p.condition > kIllConditioned) p.warning = condition_warning(lu);
  Matrix rhs = Matrix::Zero(m, 2);
  for (Index r = 0; r < m; ++r)
    for (Index j = 0; j < n; ++j) {
      const double v = Pm(o[static_cast<std::size_t>(r)], j);
      if (v == 0.0 || open[static_cast<std::size_t>(j)]) continue;
      rhs(r, target[static_cast<std::size_t>(j)] ? 0 : 1) += v;
    }
  const Matrix hq = lu.solve(rhs);
  const Vector go = lu.solve(Matrix(hq.col(0)));
  for (Index r = 0; r < m; ++r) {
    const Index i = o[static_cast<std::size_t>(r)];
    p.h(i) = hq(r, 0);
    p.q(i) = hq(r, 1);
    p.g(i) = go(r);
  }
  return p;
}

} // namespace

// The chain in which the `stop` stages keep everyone who arrives.
Matrix stop_at(const Matrix &P, const std::vector<bool> &stop) {
  Matrix Pm = P;
  for (std::size_t i = 0; i < stop.size(); ++i)
    if (stop[i]) {
      const auto ii = static_cast<Index>(i);
      Pm.row(ii).setZero();
      Pm(ii, ii) = 1.0;
    }
  return Pm;
}

Passage segment_passage(const Segment &seg, const std::vector<bool> &target,
                        const std::vector<bool> &avoid) {
  const auto &tr = seg.transitions;
  std::vector<bool> stop(target.size());
  for (std::size_t i = 0; i < stop.size(); ++i) stop[i] = target[i] || avoid[i];
  std::vector<Matrix> mods;
  for (const auto &P : tr.pieces) mods.push_back(stop_at(P, stop));
  Passage p = stationary_passage(mods.back(), target, stop);
  // Step back from the stationary tail to tenure 0: one period at tenure k - 1
  // moves by that tenure's matrix, and adds a period for those not yet there.
  std::vector<Propagator> props;
  for (const auto &m : mods) props.emplace_back(m);
  for (int k = tr.last_start(); k >= 1; --k) {
    const Propagator &Pk = props[tr.index_at(k - 1)];
    const Vector gh = p.g + p.h;
    p.h = Pk.right(p.h);
    p.q = Pk.right(p.q);
    p.g = Pk.right(gh);
    for (std::size_t i = 0; i < target.size(); ++i)
      if (target[i]) p.g(static_cast<Index>(i)) = 0.0;
  }
  return p;
}

} // namespace detail

using detail::Index;
using detail::indices_of;

namespace {

const Segment &segment_of(const Journey &journey, std::size_t segment) {
  if (segment >= journey.segments().size())
    throw std::out_of_range("segment index " + std::to_string(segment) +
                            " out of range");
  return journey.segments()[segment];
}

std::vector<bool> check_flags(const Journey &journey, const std::vector<bool> &flags,
                              const char *what) {
  if (flags.size() != journey.n_stages())
    throw std::invalid_argument(std::string(what) + " needs one flag per stage");
  return flags;
}

// The gcd of the cycle lengths through a class: levels by breadth-first search
// from one member, then the gcd of level(u) + 1 - level(v) over its edges.
int class_period(const Matrix &P, const std::vector<Index> &members) {
  const auto n = static_cast<std::size_t>(P.rows());
  std::vector<long> level(n, -1);
  std::vector<bool> in(n, false);
  for (Index i : members) in[static_cast<std::size_t>(i)] = true;
  std::vector<Index> queue{members.front()};
  level[static_cast<std::size_t>(members.front())] = 0;
  for (std::size_t q = 0; q < queue.size(); ++q)
    for (Index j = 0; j < P.cols(); ++j)
      if (in[static_cast<std::size_t>(j)] && P(queue[q], j) > 0.0 &&
          level[static_cast<std::size_t>(j)] < 0) {
        level[static_cast<std::size_t>(j)] =
            level[static_cast<std::size_t>(queue[q])] + 1;
        queue.push_back(j);
      }
  long g = 0;
  for (Index u : members)
    for (Index v : members)
      if (P(u, v) > 0.0)
        g = std::gcd(g, std::labs(level[static_cast<std::size_t>(u)] + 1 -
                                  level[static_cast<std::size_t>(v)]));
  return static_cast<int>(g);
}

// Stationary distribution of a closed class (rows of Pc sum to one) by the
// Grassmann-Taksar-Heyman state reduction: only sums and products of
// non-negative numbers, the diagonal never used.
Vector gth_stationary(Matrix Pc) {
  const Index m = Pc.rows();
  for (Index k = m - 1; k >= 1; --k) {
    double s = 0.0;
    for (Index j = 0; j < k; ++j) s += Pc(k, j);
    if (s <= 0.0) throw std::logic_error("gth_stationary: class is not irreducible");
    for (Index i = 0; i < k; ++i) Pc(i, k) /= s;
    for (Index i = 0; i < k; ++i)
      if (Pc(i, k) != 0.0)
        for (Index j = 0; j < k; ++j) Pc(i, j) += Pc(i, k) * Pc(k, j);
  }
  Vector pi = Vector::Zero(m);
  pi(0) = 1.0;
  for (Index k = 1; k < m; ++k)
    for (Index i = 0; i < k; ++i) pi(k) += pi(i) * Pc(i, k);
  return pi / pi.sum();
}

} // namespace

std::vector<StageClass> communicating_classes(const Journey &journey,
                                              std::size_t segment) {
  const Matrix &P = segment_of(journey, segment).transitions.pieces.back();
  const Components cc = components(P);
  std::vector<StageClass> out;
  for (int c = 0; c < cc.count; ++c) {
    const auto &members = cc.members[static_cast<std::size_t>(c)];
    StageClass k;
    for (Index i : members) k.stages.push_back(static_cast<int>(i));
    std::sort(k.stages.begin(), k.stages.end());
    k.recurrent = cc.closed[static_cast<std::size_t>(c)];
    k.period = class_period(P, members);
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(), [](const StageClass &a, const StageClass &b) {
    if (a.recurrent != b.recurrent) return a.recurrent;
    return a.stages.front() < b.stages.front();
  });
  return out;
}

Matrix stationary_distributions(const Journey &journey, std::size_t segment) {
  const Matrix &P = segment_of(journey, segment).transitions.pieces.back();
  const auto classes = communicating_classes(journey, segment);
  std::vector<const StageClass *> rec;
  for (const auto &c : classes)
    if (c.recurrent) rec.push_back(&c);
  Matrix out = Matrix::Zero(static_cast<Index>(rec.size()), P.cols());
  for (std::size_t r = 0; r < rec.size(); ++r) {
    std::vector<Index> idx(rec[r]->stages.begin(), rec[r]->stages.end());
    const Vector pi = gth_stationary(detail::submatrix(P, idx, idx));
    for (std::size_t q = 0; q < idx.size(); ++q)
      out(static_cast<Index>(r), idx[q]) = pi(static_cast<Index>(q));
  }
  return out;
}

FirstPassage first_passage(const Journey &journey, std::size_t segment,
                           const std::vector<bool> &target,
                           const std::vector<bool> &avoid) {
  const Segment &seg = segment_of(journey, segment);
  const auto t = check_flags(journey, target, "target");
  auto a = check_flags(journey, avoid, "avoid");
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = a[i] && !t[i];
  const detail::Passage p = detail::segment_passage(seg, t, a);
  FirstPassage out;
  out.probability = p.h;
  out.missed = p.q;
  out.mean_time = Vector(p.h.size());
  for (Index i = 0; i < p.h.size(); ++i)
    out.mean_time(i) = p.h(i) > 0.0 ? p.g(i) / p.h(i) : detail::kNaN;
  out.condition = p.condition;
  out.warning = p.warning;
  return out;
}

Matrix expected_visits(const Journey &journey, std::size_t segment) {
  const Segment &seg = segment_of(journey, segment);
  const auto &absorbing = journey.absorbing();
  const auto &tr = seg.transitions;
  const Matrix &P = tr.pieces.back();
  const Index n = P.rows();
  const auto nn = static_cast<std::size_t>(n);
  const Components cc = components(P);
  std::vector<bool> markov_transient(nn);
  for (std::size_t i = 0; i < nn; ++i)
    markov_transient[i] = !cc.closed[static_cast<std::size_t>(cc.of[i])];
  Matrix W = Matrix::Zero(n, n);
  // Stationary tail. Transient stages: N = (I - P[T, T])^-1 (customers never
  // come back from a closed class). A non-absorbing closed class keeps whoever
  // enters it for ever: infinite visits to its stages from wherever reaches it.
  const auto tidx = indices_of(markov_transient);
  if (!tidx.empty()) {
    const FundamentalSolver lu(P, tidx, 1.0);
    const auto m = static_cast<Index>(tidx.size());
    const Matrix N = lu.solve(Matrix::Identity(m, m));
    for (Index r = 0; r < m; ++r)
      for (Index c = 0; c < m; ++c)
        W(tidx[static_cast<std::size_t>(r)], tidx[static_cast<std::size_t>(c)]) =
            N(r, c);
  }
  for (std::size_t j = 0; j < nn; ++j) {
    if (markov_transient[j] || absorbing[j]) continue;
    std::vector<bool> tj(nn, false);
    tj[j] = true;
    const auto reach = can_reach(P, tj);
    for (std::size_t i = 0; i < nn; ++i)
      if (reach[i]) W(static_cast<Index>(i), static_cast<Index>(j)) = detail::kInf;
  }
  // Step back through the tenure pieces: W = I' + P W (I' the identity on the
  // non-absorbing stages), terms with P_ij = 0 adding nothing even next to inf.
  Matrix A = Matrix::Zero(n, n);
  for (std::size_t i = 0; i < nn; ++i)
    if (!absorbing[i]) A(static_cast<Index>(i), static_cast<Index>(i)) = 1.0;
  std::vector<Propagator> props;
  for (const auto &Pk : tr.pieces) props.emplace_back(Pk);
  for (int k = tr.last_start(); k >= 1; --k)
    W = A + detail::safe_product(props[tr.index_at(k - 1)], W);
  return W;
}

FirstReturn first_returns(const Journey &journey, std::size_t segment) {
  const Matrix &P = segment_of(journey, segment).transitions.pieces.back();
  const Index n = P.rows();
  const auto nn = static_cast<std::size_t>(n);
  FirstReturn out;
  out.probability = Vector::Zero(n);
  out.missed = Vector::Zero(n);
  out.mean_time = Vector::Zero(n);
  for (std::size_t i = 0; i < nn; ++i) {
    const auto ii = static_cast<Index>(i);
    std::vector<bool> target(nn, false);
    target[i] = true;
    const detail::Passage p =
        detail::segment_passage(Segment{"", 1.0, {{0}, {P}}, {}, Vector()}, target,
                                std::vector<bool>(nn, false));
    // One step out of i, then first passage back: staying counts as a return
    // after one period.
    double f = P(ii, ii), q = 0.0, t = P(ii, ii);
    for (Index j = 0; j < n; ++j) {
      if (j == ii || P(ii, j) == 0.0) continue;
      f += P(ii, j) * p.h(j);
      q += P(ii, j) * p.q(j);
      t += P(ii, j) * (p.h(j) + p.g(j));
    }
    out.probability(ii) = f;
    out.missed(ii) = q;
    out.mean_time(ii) = f > 0.0 ? t / f : detail::kNaN;
  }
  return out;
}

} // namespace journeysim
