// The tenure pieces of a segment for the exact analytics: the matrix in force
// and the effective per-stage value vector of each stream (exact.hpp).
#include "exact_detail.hpp"

#include <cmath>
#include <set>
#include <utility>

namespace journeysim::detail {
namespace {

// The effective per-stage vector of one stream: a customer's value of a period
// by the stage at its start, discounted to that start (exact.hpp).
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
  case Accrual::LifeTable: // heemod: the average, discounted to the period's start
    a = 0.5 * (v + P * v);
    break;
  }
  if (moves.size() != 0) a += d * P.cwiseProduct(moves).rowwise().sum();
  return a;
}

} // namespace

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

} // namespace journeysim::detail
