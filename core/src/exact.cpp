// Exact cohort analytics: propagation of the stage distribution and of value
// period by period, whole-lifetime results from the stationary tail, segment
// mixtures and population figures (exact.hpp).
#include "journeysim/exact.hpp"

#include "compensated.hpp"
#include "exact_detail.hpp"
#include "journeysim/graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace journeysim {
namespace {

using namespace detail;

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

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", x);
  return buf;
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
  r.retention.resize(T + 1);
  r.absorbed.resize(T);
  // Retention is summed over the stages customers are retained in, never taken
  // as 1 - absorbed (which keeps no relative precision in the tail), and the
  // share absorbed in a period as the flow into the absorbing stages, sum_i
  // x_i a_i with a_i = sum_{j absorbing} P_ij: both are sums of non-negative
  // terms, exact to a few ulps however small.
  std::vector<Vector> to_absorbing;
  for (const auto &ep : epochs) {
    Vector a = Vector::Zero(n);
    for (Index i = 0; i < n; ++i)
      if (!absorbing[static_cast<std::size_t>(i)])
        for (Index j = 0; j < n; ++j)
          if (absorbing[static_cast<std::size_t>(j)]) a(i) += (*ep.P)(i, j);
    to_absorbing.push_back(std::move(a));
  }
  auto retained = [&](const RowVector &y) {
    CompensatedSum acc;
    for (Index i = 0; i < n; ++i)
      if (!absorbing[static_cast<std::size_t>(i)]) acc.add(y(i));
    return acc.value();
  };
  RowVector x = seg.start.transpose();
  r.occupancy.row(0) = x;
  r.retention(0) = retained(x);
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
    {
      CompensatedSum out;
      for (Index i = 0; i < n; ++i)
        if (to_absorbing[e](i) != 0.0) out.add(x(i) * to_absorbing[e](i));
      r.absorbed(k - 1) = out.value();
    }
    const RowVector next = ep.prop->left(x);
    // Entering j in period k: everyone in j at k, less those who stayed in j.
    r.entries.row(k - 1) = next - x.cwiseProduct(ep.P->diagonal().transpose());
    x = next;
    r.occupancy.row(k) = x;
    r.retention(k) = retained(x);
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
  r.absorption_by_stage = H;
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

  time_to_value(journey, seg, epochs, T, r);
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

// Adds the net column everywhere.
void finish(Analysis &r, const Journey &journey) {
  const auto &w = journey.net_weights();
  r.value_by_period = with_net(r.value_by_period, w);
  r.value_by_period_nominal = with_net(r.value_by_period_nominal, w);
  r.value = with_net(r.value, w);
  r.value_infinite = with_net(r.value_infinite, w);
  r.stage_value = with_net(r.stage_value, w);
  r.stage_value_infinite = with_net(r.stage_value_infinite, w);
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
    r.absorption_by_stage = Matrix::Zero(n, parts[0].absorption_by_stage.cols());
    r.value_reached = Vector::Zero(T + 1);
    r.retention = Vector::Zero(T + 1);
    r.absorbed = Vector::Zero(T);
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
      accumulate(r.absorption_by_stage, p.absorption_by_stage, w);
      accumulate(r.value_reached, p.value_reached, w);
      accumulate(r.retention, p.retention, w);
      accumulate(r.absorbed, p.absorbed, w);
      accumulate(r.stage_lifetime, p.stage_lifetime, w);
      accumulate(r.stage_lifetime_horizon, p.stage_lifetime_horizon, w);
      accumulate(r.stage_value, p.stage_value, w);
      accumulate(r.stage_value_infinite, p.stage_value_infinite, w);
      if (w > 0.0) {
        r.lifetime_horizon += w * p.lifetime_horizon;
        r.lifetime += w * p.lifetime;
        r.ttv_reached += w * p.ttv_reached;
        r.ttv_never += w * p.ttv_never;
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
    r.segments = std::move(parts);
  }

  add_population(r, journey, 1.0);
  for (std::size_t g = 0; g < r.segments.size(); ++g)
    add_population(r.segments[g], journey, segs[g].share);
  check_results(r);
  return r;
}

} // namespace journeysim
