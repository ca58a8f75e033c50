// First visits: time to value (first passage into the value stages) for
// analyze(), and the first tenure in a window at which a customer is in given
// stages (first_visits, for interventions charged once per customer).
#include "exact_detail.hpp"

#include "journeysim/graph.hpp"

#include <stdexcept>
#include <string>

namespace journeysim::detail {

void time_to_value(const Journey &journey, const Segment &seg,
                   const std::vector<Epoch> &epochs, int T, Analysis &r) {
  const auto n = static_cast<Index>(journey.n_stages());
  r.value_reached = Vector::Constant(T + 1, kNaN);
  r.ttv_reached = kNaN;
  r.ttv_mean = kNaN;
  r.ttv_never = kNaN;
  if (journey.value_stages().empty()) return;
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
  // Probability of ever reaching, its complement and E[first-passage time;
  // reached], from each stage at tenure 0 (chain.cpp).
  const Passage p =
      segment_passage(seg, target, std::vector<bool>(target.size(), false));
  if (p.condition > r.condition) {
    r.condition = p.condition;
    if (!p.warning.empty())
      r.condition_warnings = {p.warning +
                              " (In the chain that stops at the value stages.)"};
  }
  const Vector &h = p.h, &g = p.g;
  r.ttv_never = seg.start.dot(p.q);
  r.ttv_reached = seg.start.dot(h);
  r.ttv_mean = r.ttv_reached > 0.0 ? seg.start.dot(g) / r.ttv_reached : kNaN;
}

} // namespace journeysim::detail

namespace journeysim {

using detail::RowVector;

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

Vector first_visits_any(const Journey &journey, std::size_t segment,
                        const std::vector<std::vector<int>> &stages,
                        const std::vector<int> &from, const std::vector<int> &until,
                        int horizon) {
  if (segment >= journey.segments().size())
    throw std::out_of_range("segment index " + std::to_string(segment) +
                            " out of range");
  if (from.size() != stages.size() || until.size() != stages.size())
    throw std::invalid_argument(
        "first_visits_any needs one window (from, until) per set of stages");
  if (horizon < 0) throw std::invalid_argument("first_visits_any needs horizon >= 0");
  for (std::size_t k = 0; k < stages.size(); ++k) {
    if (from[k] < 0 || until[k] < from[k])
      throw std::invalid_argument("first_visits_any needs 0 <= from <= until");
    for (int stage : stages[k])
      if (stage < 0 || static_cast<std::size_t>(stage) >= journey.n_stages())
        throw std::out_of_range("stage index " + std::to_string(stage) +
                                " out of range");
  }
  const Segment &seg = journey.segments()[segment];
  Vector f = Vector::Zero(horizon);
  RowVector x = seg.start.transpose();
  for (int tau = 0; tau < horizon; ++tau) {
    // Those in any active target's stages now meet the plan for the first
    // time: counted once, then kept out of the count for later tenures.
    for (std::size_t k = 0; k < stages.size(); ++k) {
      if (tau < from[k] || tau >= until[k]) continue;
      for (int stage : stages[k]) {
        f(tau) += x(stage);
        x(stage) = 0.0;
      }
    }
    if (tau + 1 < horizon) x = x * seg.transitions.at(tau);
  }
  return f;
}

} // namespace journeysim
