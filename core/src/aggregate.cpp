// The aggregate engine: the cohort as counts per stage, moved by multinomial
// splitting each period; its cost does not depend on the number of customers.
#include "compensated.hpp"
#include "engine.hpp"

#include <boost/random/binomial_distribution.hpp>

#include <algorithm>

namespace journeysim::detail {
namespace {

using Count = std::int64_t;

void split(const Matrix &P, int i, Count n, Rng &rng, std::vector<Count> &to) {
  // Conditional binomials: a multinomial draw of n over row i. The last stage
  // with positive probability takes whoever is left, as in the other engines:
  // a row may sum to 1 only within the tolerance, and `left` carries rounding,
  // so p / left < 1 there would lose customers.
  Index last = P.cols() - 1;
  while (last > 0 && !(P(i, last) > 0.0)) --last;
  double left = 1.0;
  for (Index j = 0; j <= last && n > 0; ++j) {
    const double p = P(i, j);
    if (p <= 0.0) continue;
    Count x;
    if (p >= left || j == last) {
      x = n;
    } else {
      boost::random::binomial_distribution<Count, double> bin(n,
                                                              std::min(1.0, p / left));
      x = bin(rng);
    }
    to[static_cast<std::size_t>(j)] += x;
    n -= x;
    left -= p;
  }
}

struct Pool {
  int join = 0;
  bool cohort = false;
  int segment = 0;
  std::vector<Count> n; // per stage
};

} // namespace

void run_aggregate(const Journey &j, const SimulationOptions &o, int rep,
                   const SimulationControl *ctl, SimulationResult &out) {
  const int T = o.periods;
  const auto S = static_cast<std::size_t>(j.n_stages());
  const auto K = static_cast<std::size_t>(j.n_streams());
  const auto disc = discount_table(j, T);
  Rng rng(stream_seed(o.seed, static_cast<std::uint64_t>(rep), 0));
  const auto &segs = j.segments();
  const int L = j.stationary_from();
  std::vector<Pool> pools;
  auto distribute = [&](Count n, int join, bool cohort) {
    // Segment shares, then start stages, each a multinomial draw.
    Matrix shares(1, static_cast<Index>(segs.size()));
    for (std::size_t g = 0; g < segs.size(); ++g)
      shares(0, static_cast<Index>(g)) = segs[g].share;
    std::vector<Count> per_seg(segs.size(), 0);
    split(shares, 0, n, rng, per_seg);
    for (std::size_t g = 0; g < segs.size(); ++g) {
      Pool p;
      p.join = join;
      p.cohort = cohort;
      p.segment = static_cast<int>(g);
      p.n.assign(S, 0);
      split(Matrix(segs[g].start.transpose()), 0, per_seg[g], rng, p.n);
      pools.push_back(std::move(p));
    }
  };
  distribute(o.customers, 0, true);
  const std::size_t occ0 =
      static_cast<std::size_t>(rep) * (static_cast<std::size_t>(T) + 1) * S;
  auto record = [&](int t) {
    for (const auto &p : pools)
      for (std::size_t s = 0; s < S; ++s) {
        out.occupancy[occ0 + static_cast<std::size_t>(t) * S + s] += p.n[s];
        if (p.cohort)
          out.cohort_occupancy[occ0 + static_cast<std::size_t>(t) * S + s] += p.n[s];
      }
  };
  record(0);
  std::vector<Count> flow_row(S);
  const std::size_t v0 =
      static_cast<std::size_t>(rep) * static_cast<std::size_t>(T) * K;
  // Compensated: a period sums over pools and moves, the cohort over periods.
  std::vector<CompensatedSum> cohort_value(K);
  // Work per period: a split per pool and stage. Checked for cancellation
  // about every kCheckEvery splits (a replication over 10^7 periods is long).
  const std::int64_t check_every = std::max<std::int64_t>(
      1, kCheckEvery / static_cast<std::int64_t>(S * S * segs.size()));
  for (int t = 1; t <= T; ++t) {
    if (t % check_every == 0 && cancelled(ctl)) throw SimulationCancelled();
    const auto c = static_cast<std::size_t>(t - 1); // calendar period - 1
    std::vector<CompensatedSum> value_now(K), nominal_now(K);
    for (auto &p : pools) {
      const int tau = t - 1 - p.join;
      const Segment &seg = segs[static_cast<std::size_t>(p.segment)];
      const Matrix &P = seg.transitions.at(tau);
      std::vector<Count> next(S, 0);
      for (std::size_t i = 0; i < S; ++i) {
        if (p.n[i] == 0) continue;
        std::fill(flow_row.begin(), flow_row.end(), 0);
        split(P, static_cast<int>(i), p.n[i], rng, flow_row);
        for (std::size_t k = 0; k < K; ++k) {
          const auto &vs = seg.streams[k];
          const Vector &v = vs.stage_values.at(tau);
          const auto &d = disc[k];
          const std::size_t h = 2 * c; // calendar discounting, as for the population
          for (std::size_t jn = 0; jn < S; ++jn) {
            if (flow_row[jn] == 0) continue;
            const auto f = static_cast<double>(flow_row[jn]);
            const auto ii = static_cast<Index>(i), jj = static_cast<Index>(jn);
            const double move =
                vs.transition_values.size() ? vs.transition_values(ii, jj) : 0.0;
            const PeriodValue pv = period_value(o.accrual, v(ii), v(jj), move, d, h);
            const double amount = f * pv.amount, own = f * pv.discounted;
            value_now[k].add(own);
            nominal_now[k].add(amount);
            if (p.cohort) cohort_value[k].add(own);
          }
        }
        for (std::size_t jn = 0; jn < S; ++jn) next[jn] += flow_row[jn];
      }
      p.n = std::move(next);
    }
    for (std::size_t k = 0; k < K; ++k) {
      out.value_by_period[v0 + c * K + k] = value_now[k].value();
      out.value_by_period_nominal[v0 + c * K + k] = nominal_now[k].value();
    }
    // Cohorts past the last tenure piece behave alike: merge them (not the start
    // cohort).
    std::vector<Pool> merged;
    for (auto &p : pools) {
      bool done = false;
      if (!p.cohort && t - p.join >= L)
        for (auto &m : merged)
          if (!m.cohort && m.segment == p.segment && t - m.join >= L) {
            for (std::size_t s = 0; s < S; ++s) m.n[s] += p.n[s];
            done = true;
            break;
          }
      if (!done) merged.push_back(std::move(p));
    }
    pools = std::move(merged);
    const Count a =
        out.arrivals[static_cast<std::size_t>(rep) * static_cast<std::size_t>(T) +
                     static_cast<std::size_t>(t - 1)];
    if (a > 0) distribute(a, t, false);
    record(t);
  }
  // Cohort lifetime: sum over periods of cohort members in transient stages.
  // Compensated: beyond 2^53 customer-periods a double no longer counts exactly.
  CompensatedSum life;
  for (int t = 0; t < T; ++t)
    for (std::size_t s = 0; s < S; ++s)
      if (!j.absorbing()[s])
        life.add(static_cast<double>(
            out.cohort_occupancy[occ0 + static_cast<std::size_t>(t) * S + s]));
  out.cohort_lifetime[static_cast<std::size_t>(rep)] = life.value();
  for (std::size_t k = 0; k < K; ++k)
    out.cohort_value[static_cast<std::size_t>(rep) * K + k] = cohort_value[k].value();
}

} // namespace journeysim::detail
