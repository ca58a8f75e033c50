// The period-by-period engine for capacity and calendar rules: a team's limit
// couples customers within a period, so everyone moves one period at a time.
//
// It streams: a customer's random numbers are regenerated from (seed,
// replication, customer, draw number) by a counter-based generator, so nothing
// per customer x period is stored (memory O(customers + stages x periods)).
// Each period is one parallel pass over fixed chunks of customers (move
// everyone from t - 1 to t, count them, find who waits at each capacity-limited
// rule at t), then a serial choice of who is served (waiting time, then stage
// priority, then customer number). Chunks are fixed whatever the thread count
// and their floating-point sums and events are merged in chunk order, so the
// results are bit-identical for any number of threads.
#include "engine.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

namespace journeysim::detail {
namespace {

constexpr std::size_t kChunk = 8192; // customers per chunk of a pass
static_assert(kChunk <= 65536, "offsets in a chunk are 16-bit");

// Customer i's draws: the n-th is SplitMix64's n-th output from a start keyed
// by (seed, replication, customer), i.e. the 64-bit finaliser of
// start + (n + 1) * golden gamma; a counter-based generator (any draw in O(1)).
// Draw 0 picks the segment, 1 the start stage, 2 + tau the move of tenure tau.
struct CounterDraws {
  std::uint64_t key;
  CounterDraws(std::uint64_t seed, std::uint64_t rep) : key(mix(mix(seed) ^ rep)) {}
  [[nodiscard]] std::uint64_t start(std::uint64_t customer) const {
    return mix(key ^ (customer + 0x5851f42d4c957f2dULL));
  }
  [[nodiscard]] static double at(std::uint64_t start, std::uint64_t n) {
    return static_cast<double>(mix(start + n * 0x9e3779b97f4a7c15ULL) >> 11) *
           0x1.0p-53;
  }
};

// A capacity rule as the period loop reads it: open ends as the largest int, and
// per stage whether it is one of the rule's stages and its priority as a dense
// index 0..priorities-1 (lower first).
struct Rule {
  explicit Rule(const CapacityRule &r)
      : capacity(r.capacity.value_or(std::numeric_limits<std::int64_t>::max())),
        from(r.window.from), until(end(r.window)), calendar_from(r.calendar.from),
        calendar_until(end(r.calendar)), touched(r.touched), fallback(r.fallback),
        team(r.team) {
    std::vector<int> values;
    for (const auto &k : r.rank)
      if (k) values.push_back(*k);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    priorities = std::max<int>(1, static_cast<int>(values.size()));
    for (const auto &k : r.rank) {
      ranked.push_back(k.has_value());
      rank.push_back(
          k ? static_cast<int>(std::lower_bound(values.begin(), values.end(), *k) -
                               values.begin())
            : 0);
    }
  }
  static int end(const Window &w) {
    return w.until.value_or(std::numeric_limits<int>::max());
  }
  [[nodiscard]] bool in_calendar(int t) const {
    return t >= calendar_from && t < calendar_until;
  }
  std::int64_t capacity;
  int from, until, calendar_from, calendar_until;
  std::vector<char> ranked;
  std::vector<int> rank;
  int priorities = 1;
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

// A customer waiting at a rule: how many periods in a row it has waited there
// unserved before this one, its stage's priority, its number.
struct Waiting {
  std::int64_t customer;
  std::int32_t wait, rank;
};

// Per customer, bit x for rule x: waits at it this period; served by it this
// period.
struct Marks {
  std::uint64_t eligible = 0, served = 0;
};

// What one chunk of customers produced in a pass; merged in chunk order.
struct ChunkOut {
  std::vector<double> value, nominal;       // K: values of the period
  std::vector<std::vector<Waiting>> queues; // X: waiting at each rule, by number
  std::vector<std::int64_t> ev_customer;
  std::vector<std::int32_t> ev_period, ev_from, ev_to;
  // Kept from pass to pass: the chunk's customers still simulated (offsets in
  // the chunk, ascending), how many of its customers have joined, and those
  // absorbed where they earn nothing (per stage; of the starting cohort; all).
  std::vector<std::uint16_t> active;
  std::size_t joined = 0;
  std::vector<std::int64_t> gone_occ, gone_cohort_occ;
  std::int64_t gone = 0;
};

// Per-thread integer counts of a pass (order-free).
struct ThreadCounts {
  std::vector<std::int64_t> occ, cohort_occ, moves, team_eligible;
};

class CapacityRun {
public:
  CapacityRun(const Journey &j, const SimulationOptions &o,
              const std::vector<CapacityRule> &rules, SimulationControl *ctl,
              int threads)
      : j_(j), o_(o), rules_(rules.begin(), rules.end()),
        team_cap_(team_budgets(rules)), ctl_(ctl), threads_(std::max(threads, 1)),
        T_(o.periods), S_(static_cast<int>(j.n_stages())),
        K_(static_cast<int>(j.n_streams())), disc_(discount_table(j, o.periods)) {
    for (const auto &seg : j.segments()) tables_.push_back(make_tables(seg));
    share_cdf_.resize(static_cast<Index>(j.segments().size()));
    double c = 0.0;
    for (std::size_t g = 0; g < j.segments().size(); ++g)
      share_cdf_(static_cast<Index>(g)) = (c += j.segments()[g].share);
    for (int v : j.value_stages()) is_value_[static_cast<std::size_t>(v)] = 1;
    // Per segment and stage: whether a customer absorbed there still earns
    // (a stage value in some piece, or a value on staying put).
    const auto S = static_cast<Index>(S_);
    for (const auto &tab : tables_) {
      std::vector<char> earns(static_cast<std::size_t>(S_), 0);
      for (Index s = 0; s < S; ++s) {
        for (const auto &v : tab.values)
          for (Index k = 0; k < v.cols(); ++k)
            earns[static_cast<std::size_t>(s)] |= v(s, k) != 0.0;
        for (const auto &m : tab.moves)
          earns[static_cast<std::size_t>(s)] |= m(s, s) != 0.0;
      }
      earns_.push_back(std::move(earns));
    }
    team_rules_.assign(team_cap_.size(), 0);
    for (std::size_t x = 0; x < rules_.size(); ++x)
      if (rules_[x].team >= 0)
        team_rules_[static_cast<std::size_t>(rules_[x].team)] |= 1ULL << x;
  }

  void run(int rep, const std::vector<std::int64_t> &joins, SimulationResult &out) {
    Rep r(*this, rep, joins, out);
    r.run();
  }

  [[nodiscard]] std::size_t teams() const { return team_cap_.size(); }

private:
  // One replication: the customers' state (O(customers)) and the passes.
  class Rep {
  public:
    Rep(const CapacityRun &e, int rep, const std::vector<std::int64_t> &joins,
        SimulationResult &out)
        : e_(e), out_(out), draws_(e.o_.seed, static_cast<std::uint64_t>(rep)),
          r_(static_cast<std::size_t>(rep)) {
      first_of_.assign(joins.size() + 1, 0);
      for (std::size_t t = 0; t < joins.size(); ++t)
        first_of_[t + 1] = first_of_[t] + joins[t];
      M_ = static_cast<std::size_t>(first_of_.back());
      keep_ = rep == 0 && e.o_.per_customer;
      events_ = rep == 0 && e.o_.record_events;
      X_ = e.rules_.size();
      N_ = e.team_cap_.size();
      const auto K = static_cast<std::size_t>(e.K_);
      const SimulationControl *ctl = e.ctl_;
      assign_cancellable(seg_, M_, std::uint8_t{0}, ctl);
      assign_cancellable(stage_, M_, std::int16_t{0}, ctl);
      assign_cancellable(absorbed_, M_, char{0}, ctl);
      assign_cancellable(life_, M_, std::int32_t{0}, ctl);
      assign_cancellable(cv_, M_ * K, 0.0, ctl);
      assign_cancellable(marks_, M_, Marks{}, ctl);
      assign_cancellable(charged_, M_, std::uint64_t{0}, ctl);
      assign_cancellable(wait_, M_ * X_, std::int32_t{0}, ctl);
      if (keep_) {
        assign_cancellable(first_, M_, std::int32_t{-1}, ctl);
        assign_cancellable(start_stage_, M_, std::int16_t{0}, ctl);
      }
      const auto S = static_cast<std::size_t>(e.S_);
      const std::size_t chunks = (M_ + kChunk - 1) / kChunk;
      chunks_.resize(chunks);
      for (auto &c : chunks_) {
        c.value.assign(K, 0.0);
        c.nominal.assign(K, 0.0);
        c.queues.resize(X_);
        c.gone_occ.assign(S, 0);
        c.gone_cohort_occ.assign(S, 0);
      }
      counts_.resize(static_cast<std::size_t>(e.threads_));
      for (auto &c : counts_) {
        c.occ.assign(S, 0);
        c.cohort_occ.assign(S, 0);
        c.moves.assign(S * S, 0);
        c.team_eligible.assign(N_, 0);
      }
    }

    void run() {
      const int T = e_.T_;
      for (int t = 0; t <= T; ++t) {
        pass(t);
        if (t < T) serve(t);
      }
      totals();
    }

  private:
    // Pass t: move customers active at t - 1 to t, start those joining at t,
    // count everyone at t, and queue who waits at each rule at t.
    void pass(int t) {
      const auto hi =
          static_cast<std::size_t>(first_of_[static_cast<std::size_t>(t) + 1]);
      const std::size_t n_chunks = (hi + kChunk - 1) / kChunk;
      std::atomic<std::size_t> next{0};
      std::atomic<bool> stop{false};
      auto work = [&](std::size_t tid) {
        ThreadCounts &cnt = counts_[tid];
        for (;;) {
          const std::size_t c = next.fetch_add(1);
          if (c >= n_chunks || stop.load(std::memory_order_relaxed)) return;
          if (cancelled(e_.ctl_)) {
            stop = true;
            return;
          }
          run_chunk(t, c, std::min(hi, (c + 1) * kChunk), cnt);
        }
      };
      const auto n =
          std::min<std::size_t>(static_cast<std::size_t>(e_.threads_), n_chunks);
      if (n <= 1) {
        work(0);
      } else {
        // This thread takes chunks too: when the machine is busy and a helper
        // starts late, the chunks do not wait for it.
        std::vector<std::thread> pool;
        for (std::size_t k = 1; k < n; ++k) pool.emplace_back(work, k);
        work(0);
        for (auto &th : pool) th.join();
      }
      if (stop || cancelled(e_.ctl_)) throw SimulationCancelled();
      merge(t, n_chunks);
    }

    // Chunk c at pass t: its customers still simulated (in customer order),
    // then those joining at t. A customer absorbed where it earns nothing is
    // dropped from the chunk's list and counted in its stage from then on, so
    // the passes cost the customers still on their way, not everyone.
    void run_chunk(int t, std::size_t c, std::size_t end, ThreadCounts &cnt) {
      const CapacityRun &e = e_;
      const auto K = static_cast<std::size_t>(e.K_);
      const auto S = static_cast<std::size_t>(e.S_);
      ChunkOut &co = chunks_[c];
      std::fill(co.value.begin(), co.value.end(), 0.0);
      std::fill(co.nominal.begin(), co.nominal.end(), 0.0);
      for (auto &q : co.queues) q.clear();
      for (std::size_t s = 0; s < S; ++s) {
        cnt.occ[s] += co.gone_occ[s];
        cnt.cohort_occ[s] += co.gone_cohort_occ[s];
      }
      const std::size_t base = c * kChunk;
      // The join period of the chunk's first customer; customers are numbered
      // by join period.
      std::size_t J =
          static_cast<std::size_t>(std::upper_bound(first_of_.begin(), first_of_.end(),
                                                    static_cast<std::int64_t>(base)) -
                                   first_of_.begin() - 1);
      // a customer-period simulated for everyone who joined before t
      std::int64_t moved = co.gone;
      // Counts customer i (joined at J) at t, queues it, and says whether it
      // stays on the chunk's list.
      auto close = [&](std::size_t i) {
        const auto s = static_cast<std::size_t>(stage_[i]);
        ++cnt.occ[s];
        if (J == 0) ++cnt.cohort_occ[s];
        if (t < e.T_) queue(t, i, static_cast<int>(J), cnt, co);
        if (!absorbed_[i] || e.earns_[seg_[i]][s]) return true;
        ++co.gone_occ[s];
        if (J == 0) ++co.gone_cohort_occ[s];
        ++co.gone;
        return false;
      };
      auto &active = co.active;
      std::size_t kept = 0;
      for (std::size_t n = 0; n < active.size(); ++n) {
        const std::size_t i = base + active[n];
        while (static_cast<std::int64_t>(i) >= first_of_[J + 1]) ++J;
        if (absorbed_[i]) {
          // Absorbed customers stay put but may still earn (a value in the stage).
          const int tau = t - 1 - static_cast<int>(J);
          e.accrue(e.tables_[seg_[i]], stage_[i], stage_[i], tau, static_cast<int>(J),
                   cv_.data() + i * K, co);
        } else {
          move(t, i, static_cast<int>(J), draws_.start(i), cnt, co);
        }
        ++moved;
        if (close(i)) active[kept++] = active[n];
      }
      active.resize(kept);
      for (std::size_t i = base + co.joined; i < end; ++i) {
        while (static_cast<std::int64_t>(i) >= first_of_[J + 1]) ++J;
        join(i, draws_.start(i));
        if (close(i)) active.push_back(static_cast<std::uint16_t>(i - base));
      }
      co.joined = std::max(co.joined, end - base);
      if (e.ctl_) e.ctl_->steps_done.fetch_add(moved, std::memory_order_relaxed);
    }

    void join(std::size_t i, std::uint64_t start) {
      const int g = draw_from_cdf(e_.share_cdf_, CounterDraws::at(start, 0));
      seg_[i] = static_cast<std::uint8_t>(g);
      const int s = draw_from_cdf(e_.tables_[static_cast<std::size_t>(g)].start_cdf,
                                  CounterDraws::at(start, 1));
      stage_[i] = static_cast<std::int16_t>(s);
      if (keep_) start_stage_[i] = stage_[i];
      absorbed_[i] = e_.j_.absorbing()[static_cast<std::size_t>(s)];
      if (keep_ && e_.is_value(s)) first_[i] = 0;
    }

    // Customer i (joined at J, active) moves from t - 1 to t: as its segment,
    // or as the fallback of each rule that denied it at t - 1.
    void move(int t, std::size_t i, int J, std::uint64_t start, ThreadCounts &cnt,
              ChunkOut &co) {
      const CapacityRun &e = e_;
      const int tau = t - 1 - J;
      const int home = seg_[i];
      int g = home;
      Marks &mk = marks_[i];
      const std::uint64_t denied = mk.eligible & ~mk.served;
      mk = Marks{};
      for (std::size_t x = 0; x < X_; ++x) {
        const Rule &rule = e.rules_[x];
        if (!rule.touched[static_cast<std::size_t>(home)]) continue;
        // Off the calendar: as if untouched; otherwise denied when it waited
        // at the rule and was not served.
        if (!rule.in_calendar(t - 1) || (denied >> x & 1ULL))
          g = rule.fallback[static_cast<std::size_t>(g)];
      }
      const SegmentTables &tab = e.tables_[static_cast<std::size_t>(g)];
      const int s = stage_[i];
      const int nx = tab.sampler_at(tau).draw(
          s, CounterDraws::at(start, 2 + static_cast<std::uint64_t>(tau)));
      ++life_[i];
      e.accrue(tab, s, nx, tau, J, cv_.data() + i * static_cast<std::size_t>(e.K_), co);
      if (nx == s) return;
      ++cnt.moves[static_cast<std::size_t>(s) * static_cast<std::size_t>(e.S_) +
                  static_cast<std::size_t>(nx)];
      if (events_) {
        co.ev_customer.push_back(static_cast<std::int64_t>(i));
        co.ev_period.push_back(t);
        co.ev_from.push_back(s);
        co.ev_to.push_back(nx);
      }
      if (keep_ && first_[i] < 0 && e.is_value(nx)) first_[i] = tau + 1;
      stage_[i] = static_cast<std::int16_t>(nx);
      absorbed_[i] = e.j_.absorbing()[static_cast<std::size_t>(nx)];
    }

    // Whether customer i waits at each rule at t; a customer that does not
    // wait there has waited 0 periods.
    void queue(int t, std::size_t i, int J, ThreadCounts &cnt, ChunkOut &co) {
      const CapacityRun &e = e_;
      const int tau = t - J;
      const auto s = static_cast<std::size_t>(stage_[i]);
      std::uint64_t mask = 0;
      for (std::size_t x = 0; x < X_; ++x) {
        const Rule &rule = e.rules_[x];
        std::int32_t &w = wait_[i * X_ + x];
        if (absorbed_[i] || !rule.touched[seg_[i]] || !rule.in_calendar(t) ||
            tau < rule.from || tau >= rule.until || !rule.ranked[s]) {
          w = 0;
          continue;
        }
        mask |= 1ULL << x;
        co.queues[x].push_back(Waiting{static_cast<std::int64_t>(i), w, rule.rank[s]});
      }
      marks_[i].eligible = mask;
      if (mask)
        for (std::size_t n = 0; n < N_; ++n)
          if (mask & e.team_rules_[n]) ++cnt.team_eligible[n];
    }

    // Chunk sums in chunk order, events appended, thread counts added.
    void merge(int t, std::size_t n_chunks) {
      const auto S = static_cast<std::size_t>(e_.S_);
      const auto K = static_cast<std::size_t>(e_.K_);
      const auto T = static_cast<std::size_t>(e_.T_);
      const auto tt = static_cast<std::size_t>(t);
      if (t > 0) {
        const std::size_t v0 = (r_ * T + tt - 1) * K;
        for (std::size_t c = 0; c < n_chunks; ++c)
          for (std::size_t k = 0; k < K; ++k) {
            out_.value_by_period[v0 + k] += chunks_[c].value[k];
            out_.value_by_period_nominal[v0 + k] += chunks_[c].nominal[k];
          }
      }
      if (events_)
        for (std::size_t c = 0; c < n_chunks; ++c) {
          auto &co = chunks_[c];
          out_.event_customer.insert(out_.event_customer.end(), co.ev_customer.begin(),
                                     co.ev_customer.end());
          out_.event_period.insert(out_.event_period.end(), co.ev_period.begin(),
                                   co.ev_period.end());
          out_.event_from.insert(out_.event_from.end(), co.ev_from.begin(),
                                 co.ev_from.end());
          out_.event_to.insert(out_.event_to.end(), co.ev_to.begin(), co.ev_to.end());
          co.ev_customer.clear();
          co.ev_period.clear();
          co.ev_from.clear();
          co.ev_to.clear();
        }
      const std::size_t occ0 = (r_ * (T + 1) + tt) * S;
      const std::size_t m0 = r_ * S * S;
      const std::size_t n0 = (r_ * T + tt) * N_;
      for (auto &c : counts_) {
        for (std::size_t s = 0; s < S; ++s) {
          out_.occupancy[occ0 + s] += c.occ[s];
          out_.cohort_occupancy[occ0 + s] += c.cohort_occ[s];
          c.occ[s] = c.cohort_occ[s] = 0;
        }
        for (std::size_t q = 0; q < S * S; ++q) {
          out_.capacity_moves[m0 + q] += c.moves[q];
          c.moves[q] = 0;
        }
        if (t < e_.T_)
          for (std::size_t n = 0; n < N_; ++n) {
            out_.team_eligible[n0 + n] += c.team_eligible[n];
            c.team_eligible[n] = 0;
          }
      }
      n_chunks_ = n_chunks;
    }

    // Who is served at t: rule by rule in the plan's order, each rule's waiting
    // customers by waiting time (longest first), then stage priority, then
    // customer number, while the rule and its team have room.
    void serve(int t) {
      const CapacityRun &e = e_;
      const auto T = static_cast<std::size_t>(e.T_);
      const std::size_t x0 = (r_ * T + static_cast<std::size_t>(t)) * X_;
      std::vector<std::int64_t> used(N_, 0);
      for (std::size_t x = 0; x < X_; ++x) {
        const Rule &rule = e.rules_[x];
        std::size_t waiting = 0;
        std::int32_t longest = 0;
        for (std::size_t c = 0; c < n_chunks_; ++c) {
          waiting += chunks_[c].queues[x].size();
          for (const Waiting &w : chunks_[c].queues[x])
            longest = std::max(longest, w.wait);
        }
        const auto g = static_cast<std::size_t>(rule.team);
        const auto room = static_cast<std::uint64_t>(
            rule.team >= 0 ? std::min(rule.capacity, e.team_cap_[g] - used[g])
                           : rule.capacity);
        std::int64_t served = 0;
        auto visit = [&](const Waiting &w) {
          const auto i = static_cast<std::size_t>(w.customer);
          bool ok = served < rule.capacity;
          if (ok && rule.team >= 0 && !(marks_[i].served & e.team_rules_[g])) {
            ok = used[g] < e.team_cap_[g];
            if (ok) ++used[g];
          }
          if (!ok) {
            ++wait_[i * X_ + x];
            return;
          }
          ++served;
          marks_[i].served |= 1ULL << x;
          wait_[i * X_ + x] = 0;
          if (!(charged_[i] >> x & 1ULL)) {
            charged_[i] |= 1ULL << x;
            ++out_.capacity_first_treated[x0 + x];
          }
        };
        if (waiting <= room) {
          // Room for everyone: the order does not matter.
          for (std::size_t c = 0; c < n_chunks_; ++c)
            for (const Waiting &w : chunks_[c].queues[x]) visit(w);
        } else {
          // Stable counting sort of the queues (already by customer number)
          // by (longest wait first, then priority).
          const auto P = static_cast<std::size_t>(rule.priorities);
          auto bucket = [&](const Waiting &w) {
            return static_cast<std::size_t>(longest - w.wait) * P +
                   static_cast<std::size_t>(w.rank);
          };
          std::vector<std::size_t> at((static_cast<std::size_t>(longest) + 1) * P + 1,
                                      0);
          for (std::size_t c = 0; c < n_chunks_; ++c)
            for (const Waiting &w : chunks_[c].queues[x]) ++at[bucket(w) + 1];
          for (std::size_t b = 1; b < at.size(); ++b) at[b] += at[b - 1];
          order_.resize(waiting);
          for (std::size_t c = 0; c < n_chunks_; ++c)
            for (const Waiting &w : chunks_[c].queues[x]) order_[at[bucket(w)]++] = w;
          for (const Waiting &w : order_) visit(w);
        }
        out_.capacity_eligible[x0 + x] = static_cast<std::int64_t>(waiting);
        out_.capacity_treated[x0 + x] = served;
      }
      const std::size_t n0 = (r_ * T + static_cast<std::size_t>(t)) * N_;
      for (std::size_t n = 0; n < N_; ++n) out_.team_handled[n0 + n] = used[n];
    }

    // Totals of the starting cohort (in customer order), per-customer arrays.
    void totals() {
      const auto K = static_cast<std::size_t>(e_.K_);
      const double *w = e_.j_.net_weights().data();
      const auto cohort = static_cast<std::size_t>(first_of_[1]);
      for (std::size_t i = 0; i < cohort; ++i) {
        double net = 0.0;
        for (std::size_t k = 0; k < K; ++k) {
          const double v = cv_[i * K + k];
          out_.cohort_value[r_ * K + k] += v;
          out_.cohort_value_sq[r_ * (K + 1) + k] += v * v;
          net += w[k] * v;
        }
        out_.cohort_value_sq[r_ * (K + 1) + K] += net * net;
        out_.cohort_lifetime[r_] += life_[i];
        out_.cohort_lifetime_sq[r_] += static_cast<double>(life_[i]) * life_[i];
      }
      if (keep_) {
        out_.lifetime = std::move(life_);
        out_.first_value = std::move(first_);
        out_.segment = std::move(seg_);
        out_.customer_value = std::move(cv_);
        out_.start_stage = std::move(start_stage_);
        out_.outcome.assign(M_, -1);
        for (std::size_t i = 0; i < M_; ++i)
          if (absorbed_[i]) out_.outcome[i] = stage_[i];
      }
    }

    const CapacityRun &e_;
    SimulationResult &out_;
    CounterDraws draws_;
    std::size_t r_;
    std::vector<std::int64_t> first_of_; // customers numbered by join period
    std::size_t M_ = 0, X_ = 0, N_ = 0, n_chunks_ = 0;
    bool keep_ = false, events_ = false;
    std::vector<std::uint8_t> seg_;
    std::vector<std::int16_t> stage_, start_stage_;
    std::vector<char> absorbed_;
    std::vector<std::int32_t> life_, first_;
    std::vector<double> cv_;
    // Per customer, bit x for rule x: waits at it this period / served by it
    // this period / ever served by it; and periods waited unserved at each rule.
    // (eligible and served side by side: read and reset together every period)
    std::vector<Marks> marks_;
    std::vector<std::uint64_t> charged_;
    std::vector<std::int32_t> wait_;
    std::vector<ChunkOut> chunks_;
    std::vector<ThreadCounts> counts_;
    std::vector<Waiting> order_;
  };

  [[nodiscard]] bool is_value(int s) const {
    return is_value_[static_cast<std::size_t>(s)];
  }

  // The value of period tau + 1 of a customer who joined at J, moving s -> nx,
  // into its own sums and its chunk's sums of the period.
  void accrue(const SegmentTables &tab, int s, int nx, int tau, int J, double *cv,
              ChunkOut &co) const {
    const auto K = static_cast<std::size_t>(K_);
    std::size_t e = 0;
    while (e + 1 < tab.value_starts.size() && tab.value_starts[e + 1] <= tau) ++e;
    const std::size_t h = 2 * static_cast<std::size_t>(tau);
    for (std::size_t k = 0; k < K; ++k) {
      const auto &d = disc_[k];
      const auto ki = static_cast<Index>(k);
      const Matrix &v = tab.values[e];
      const double move = tab.moves.empty() ? 0.0 : tab.moves[k](s, nx);
      const PeriodValue pv = period_value(o_.accrual, v(s, ki), v(nx, ki), move, d, h);
      cv[k] += pv.discounted;
      co.value[k] += pv.discounted * d[2 * static_cast<std::size_t>(J)];
      co.nominal[k] += pv.amount;
    }
  }

  const Journey &j_;
  const SimulationOptions &o_;
  const std::vector<Rule> rules_;
  const std::vector<std::int64_t> team_cap_; // per team, customers per period
  SimulationControl *ctl_;
  int threads_, T_, S_, K_;
  std::vector<std::vector<double>> disc_;
  std::vector<SegmentTables> tables_;
  Vector share_cdf_;
  std::vector<char> is_value_ = std::vector<char>(j_.n_stages(), 0);
  std::vector<std::vector<char>> earns_;  // per segment and stage, when absorbed
  std::vector<std::uint64_t> team_rules_; // per team: its rules' bits
};

} // namespace

void run_capacity(const Journey &j, const SimulationOptions &o,
                  const std::vector<CapacityRule> &rules, SimulationControl *ctl,
                  const std::vector<std::vector<std::int64_t>> &joins,
                  SimulationResult &out, int threads) {
  CapacityRun run(j, o, rules, ctl, threads);
  const auto R = joins.size(), T = static_cast<std::size_t>(o.periods);
  const auto S = j.n_stages();
  out.team_eligible.assign(R * T * run.teams(), 0);
  out.team_handled.assign(R * T * run.teams(), 0);
  out.capacity_moves.assign(R * S * S, 0);
  for (std::size_t rep = 0; rep < joins.size(); ++rep)
    run.run(static_cast<int>(rep), joins[rep], out);
}

} // namespace journeysim::detail
