// The period-by-period engine for capacity and calendar rules: a team's limit
// couples customers within a period, so everyone moves one period at a time.
#include "engine.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace journeysim::detail {
namespace {

// A capacity rule as the period loop reads it: open ends as the largest int, and
// per stage whether it is one of the rule's stages and its rank.
struct Rule {
  explicit Rule(const CapacityRule &r)
      : capacity(r.capacity.value_or(std::numeric_limits<std::int64_t>::max())),
        from(r.window.from), until(end(r.window)), calendar_from(r.calendar.from),
        calendar_until(end(r.calendar)), touched(r.touched), fallback(r.fallback),
        team(r.team) {
    for (const auto &k : r.rank) {
      ranked.push_back(k.has_value());
      rank.push_back(k.value_or(0));
    }
  }
  static int end(const Window &w) {
    return w.until.value_or(std::numeric_limits<int>::max());
  }
  std::int64_t capacity;
  int from, until, calendar_from, calendar_until;
  std::vector<char> ranked;
  std::vector<int> rank;
  std::vector<bool> touched;
  std::vector<int> fallback;
  int team;
};

// The teams' budgets per period (index: team), checked: teams numbered from 0,
// one budget per team, none negative.
std::vector<std::int64_t> team_budgets(const std::vector<CapacityRule> &rules) {
  std::vector<std::int64_t> cap;
  std::vector<char> seen;
  for (const auto &r : rules) {
    if (r.team < -1)
      throw std::invalid_argument("a capacity rule's team must be >= 0 (or -1: none)");
    if (r.team < 0) {
      if (r.team_capacity)
        throw std::invalid_argument("a team capacity needs the rule's team");
      continue;
    }
    if (r.team_capacity && *r.team_capacity < 0)
      throw std::invalid_argument("team capacity must be >= 0");
    const auto g = static_cast<std::size_t>(r.team);
    if (g >= rules.size())
      throw std::invalid_argument("a capacity rule's team is out of range");
    if (g >= cap.size()) {
      cap.resize(g + 1, std::numeric_limits<std::int64_t>::max());
      seen.resize(g + 1, 0);
    }
    const auto c = r.team_capacity.value_or(std::numeric_limits<std::int64_t>::max());
    if (seen[g] && cap[g] != c)
      throw std::invalid_argument("rules of team " + std::to_string(g) +
                                  " carry different team capacities");
    seen[g] = 1;
    cap[g] = c;
  }
  return cap;
}

// Customers a team can treat per period couple customers within a period, so
// this run goes period by period over everyone (single-threaded), using exactly
// the random numbers the customer-by-customer engine gives each customer.
class CapacityRun {
public:
  CapacityRun(const Journey &j, const SimulationOptions &o,
              const std::vector<CapacityRule> &rules, SimulationControl *ctl)
      : j_(j), o_(o), rules_(rules.begin(), rules.end()),
        team_cap_(team_budgets(rules)), ctl_(ctl), T_(o.periods),
        S_(static_cast<int>(j.n_stages())), K_(static_cast<int>(j.n_streams())),
        disc_(discount_table(j, o.periods)) {
    for (const auto &seg : j.segments()) tables_.push_back(make_tables(seg));
    share_cdf_.resize(static_cast<Index>(j.segments().size()));
    double c = 0.0;
    for (std::size_t g = 0; g < j.segments().size(); ++g)
      share_cdf_(static_cast<Index>(g)) = (c += j.segments()[g].share);
    for (int v : j.value_stages()) is_value_[static_cast<std::size_t>(v)] = 1;
  }

  void run(int rep, const std::vector<std::int64_t> &joins, SimulationResult &out) {
    const int T = T_;
    const auto S = static_cast<std::size_t>(S_), K = static_cast<std::size_t>(K_);
    const auto X = rules_.size();
    std::vector<int> join;
    for (std::size_t t = 0; t < joins.size(); ++t)
      for (std::int64_t c = 0; c < joins[t]; ++c) join.push_back(static_cast<int>(t));
    const auto M = join.size();
    // Each customer's draws, as the block streams hand them out.
    std::vector<std::size_t> offset(M + 1, 0);
    for (std::size_t i = 0; i < M; ++i)
      offset[i + 1] = offset[i] + 2 + static_cast<std::size_t>(T - join[i]);
    std::vector<double> draws;
    assign_cancellable(draws, offset[M], 0.0, ctl_);
    for (std::size_t b = 0; b * kBlock < M; ++b) {
      if (cancelled(ctl_)) throw SimulationCancelled();
      Rng rng(stream_seed(o_.seed, static_cast<std::uint64_t>(rep), b));
      const std::size_t hi = std::min(M, (b + 1) * static_cast<std::size_t>(kBlock));
      for (std::size_t q = offset[b * kBlock]; q < offset[hi]; ++q)
        draws[q] = uniform(rng);
    }
    std::vector<std::uint8_t> seg(M);
    std::vector<std::int16_t> stage(M), start_stage(M, 0);
    std::vector<char> absorbed(M, 0);
    std::vector<std::int32_t> life(M, 0), first(M, -1);
    std::vector<double> cv(M * K, 0.0);
    std::vector<std::uint64_t> charged(M, 0);
    const bool keep = rep == 0 && o_.per_customer;
    const bool events = rep == 0 && o_.record_events;
    const std::size_t r = static_cast<std::size_t>(rep);
    const std::size_t occ0 = r * static_cast<std::size_t>(T + 1) * S;
    const std::size_t v0 = r * static_cast<std::size_t>(T) * K;
    const std::size_t x0 = r * static_cast<std::size_t>(T) * X;
    const std::size_t N = team_cap_.size();
    const std::size_t n0 = r * static_cast<std::size_t>(T) * N;
    const std::size_t m0 = r * S * S;
    std::vector<std::vector<std::size_t>> eligible(X);
    std::vector<char> denied(M * X, 0);
    // Per customer and team, the last period (t + 1) it met / was handled by
    // one of the team's rules, and per team the customers handled this period.
    std::vector<std::int32_t> met(M * N, 0), handled(M * N, 0);
    std::vector<std::int64_t> used(N, 0);
    std::size_t next_id = 0;
    for (int t = 0; t <= T; ++t) {
      if (cancelled(ctl_)) throw SimulationCancelled();
      // Customers joining now.
      for (; next_id < M && join[next_id] == t; ++next_id) {
        const std::size_t i = next_id;
        const int g = draw_from_cdf(share_cdf_, draws[offset[i]]);
        seg[i] = static_cast<std::uint8_t>(g);
        const int s = draw_from_cdf(tables_[static_cast<std::size_t>(g)].start_cdf,
                                    draws[offset[i] + 1]);
        stage[i] = static_cast<std::int16_t>(s);
        if (keep) start_stage[i] = stage[i];
        absorbed[i] = j_.absorbing()[static_cast<std::size_t>(s)];
        if (is_value(s)) first[i] = 0;
      }
      for (std::size_t i = 0; i < next_id; ++i) {
        const auto at =
            occ0 + static_cast<std::size_t>(t) * S + static_cast<std::size_t>(stage[i]);
        ++out.occupancy[at];
        if (join[i] == 0) ++out.cohort_occupancy[at];
      }
      if (t == T) break;
      // Who meets a capacity-limited intervention this period, and who is served.
      for (std::size_t x = 0; x < X; ++x) {
        const Rule &rule = rules_[x];
        auto &e = eligible[x];
        e.clear();
        const bool in_calendar = t >= rule.calendar_from && t < rule.calendar_until;
        for (std::size_t i = 0; i < next_id; ++i) {
          const int tau = t - join[i];
          if (absorbed[i] || !rule.touched[seg[i]]) continue;
          if (!in_calendar) {
            denied[i * X + x] = 1; // not on this period: as if untouched
            continue;
          }
          if (tau < rule.from || tau >= rule.until) continue;
          if (!rule.ranked[static_cast<std::size_t>(stage[i])]) continue;
          e.push_back(i);
        }
        std::stable_sort(e.begin(), e.end(), [&](std::size_t a, std::size_t b) {
          return rule.rank[static_cast<std::size_t>(stage[a])] <
                 rule.rank[static_cast<std::size_t>(stage[b])];
        });
        // In order: served while the rule has room and its team has room (or
        // already handles the customer this period, at no further cost).
        const auto now = static_cast<std::int32_t>(t + 1);
        const auto g = static_cast<std::size_t>(rule.team);
        std::int64_t served = 0;
        for (const std::size_t i : e) {
          bool ok = served < rule.capacity;
          if (rule.team >= 0) {
            if (met[i * N + g] != now) {
              met[i * N + g] = now;
              ++out.team_eligible[n0 + static_cast<std::size_t>(t) * N + g];
            }
            const bool counted = handled[i * N + g] == now;
            if (ok && !counted) {
              ok = used[g] < team_cap_[g];
              if (ok) {
                handled[i * N + g] = now;
                ++used[g];
              }
            }
          }
          if (!ok) {
            denied[i * X + x] = 1;
            continue;
          }
          ++served;
          if (!(charged[i] >> x & 1ULL)) {
            charged[i] |= 1ULL << x;
            ++out.capacity_first_treated[x0 + static_cast<std::size_t>(t) * X + x];
          }
        }
        out.capacity_eligible[x0 + static_cast<std::size_t>(t) * X + x] =
            static_cast<std::int64_t>(e.size());
        out.capacity_treated[x0 + static_cast<std::size_t>(t) * X + x] = served;
      }
      for (std::size_t g = 0; g < N; ++g) {
        out.team_handled[n0 + static_cast<std::size_t>(t) * N + g] = used[g];
        used[g] = 0;
      }
      // Move everyone who is still in the journey.
      for (std::size_t i = 0; i < next_id; ++i) {
        const int tau = t - join[i];
        if (absorbed[i]) {
          // Absorbed customers stay put but may still earn (a value in the stage).
          const SegmentTables &tab = tables_[seg[i]];
          // (No `&cv[i * K]`: without value streams cv is empty, cv[0] undefined.)
          accrue(tab, stage[i], stage[i], tau, join[i], cv.data() + i * K, out, v0);
          continue;
        }
        int g = seg[i];
        for (std::size_t x = 0; x < X; ++x)
          if (denied[i * X + x]) {
            g = rules_[x].fallback[static_cast<std::size_t>(g)];
            denied[i * X + x] = 0;
          }
        const SegmentTables &tab = tables_[static_cast<std::size_t>(g)];
        const int s = stage[i];
        const int nx = tab.sampler_at(tau).draw(
            s, draws[offset[i] + 2 + static_cast<std::size_t>(tau)]);
        ++life[i];
        accrue(tab, s, nx, tau, join[i], cv.data() + i * K, out, v0);
        if (nx != s) {
          ++out.capacity_moves[m0 + static_cast<std::size_t>(s) * S +
                               static_cast<std::size_t>(nx)];
          if (events) {
            out.event_customer.push_back(static_cast<std::int64_t>(i));
            out.event_period.push_back(t + 1);
            out.event_from.push_back(s);
            out.event_to.push_back(nx);
          }
          if (first[i] < 0 && is_value(nx)) first[i] = tau + 1;
          stage[i] = static_cast<std::int16_t>(nx);
          absorbed[i] = j_.absorbing()[static_cast<std::size_t>(nx)];
        }
      }
    }
    if (ctl_) ctl_->steps_done.fetch_add(static_cast<std::int64_t>(offset[M] - 2 * M));
    // Totals of the starting cohort, and per-customer arrays.
    const double *w = j_.net_weights().data();
    for (std::size_t i = 0; i < M && join[i] == 0; ++i) {
      double net = 0.0;
      for (std::size_t k = 0; k < K; ++k) {
        const double v = cv[i * K + k];
        out.cohort_value[r * K + k] += v;
        out.cohort_value_sq[r * (K + 1) + k] += v * v;
        net += w[k] * v;
      }
      out.cohort_value_sq[r * (K + 1) + K] += net * net;
      out.cohort_lifetime[r] += life[i];
      out.cohort_lifetime_sq[r] += static_cast<double>(life[i]) * life[i];
    }
    if (keep) {
      out.lifetime = life;
      out.first_value = first;
      out.segment = seg;
      out.customer_value = cv;
      out.start_stage = start_stage;
      out.outcome.assign(M, -1);
      for (std::size_t i = 0; i < M; ++i)
        if (absorbed[i]) out.outcome[i] = stage[i];
    }
  }

  [[nodiscard]] std::size_t teams() const { return team_cap_.size(); }

private:
  [[nodiscard]] bool is_value(int s) const {
    return is_value_[static_cast<std::size_t>(s)];
  }

  // The value of period tau + 1 of a customer who joined at J, moving s -> nx.
  void accrue(const SegmentTables &tab, int s, int nx, int tau, int J, double *cv,
              SimulationResult &out, std::size_t v0) const {
    const auto K = static_cast<std::size_t>(K_);
    std::size_t e = 0;
    while (e + 1 < tab.value_starts.size() && tab.value_starts[e + 1] <= tau) ++e;
    const auto period = static_cast<std::size_t>(J + tau);
    const std::size_t h = 2 * static_cast<std::size_t>(tau);
    for (std::size_t k = 0; k < K; ++k) {
      const auto &d = disc_[k];
      const auto ki = static_cast<Index>(k);
      const Matrix &v = tab.values[e];
      const double move = tab.moves.empty() ? 0.0 : tab.moves[k](s, nx);
      const PeriodValue pv = period_value(o_.accrual, v(s, ki), v(nx, ki), move, d, h);
      const double amount = pv.amount, own = pv.discounted;
      cv[k] += own;
      out.value_by_period[v0 + period * K + k] +=
          own * d[2 * static_cast<std::size_t>(J)];
      out.value_by_period_nominal[v0 + period * K + k] += amount;
    }
  }

  const Journey &j_;
  const SimulationOptions &o_;
  const std::vector<Rule> rules_;
  const std::vector<std::int64_t> team_cap_; // per team, customers per period
  SimulationControl *ctl_;
  int T_, S_, K_;
  std::vector<std::vector<double>> disc_;
  std::vector<SegmentTables> tables_;
  Vector share_cdf_;
  std::vector<char> is_value_ = std::vector<char>(j_.n_stages(), 0);
};

} // namespace

void run_capacity(const Journey &j, const SimulationOptions &o,
                  const std::vector<CapacityRule> &rules, SimulationControl *ctl,
                  const std::vector<std::vector<std::int64_t>> &joins,
                  SimulationResult &out) {
  CapacityRun run(j, o, rules, ctl);
  const auto R = joins.size(), T = static_cast<std::size_t>(o.periods);
  const auto S = j.n_stages();
  out.team_eligible.assign(R * T * run.teams(), 0);
  out.team_handled.assign(R * T * run.teams(), 0);
  out.capacity_moves.assign(R * S * S, 0);
  for (std::size_t rep = 0; rep < joins.size(); ++rep)
    run.run(static_cast<int>(rep), joins[rep], out);
}

} // namespace journeysim::detail
