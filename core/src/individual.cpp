// The customer-by-customer engines, sojourn and period: blocks of customers in
// parallel, each customer's stays accounted in closed form when it moves (see
// docs/algorithms.md). They differ only in how a customer's moves are drawn.
#include "compensated.hpp"
#include "engine.hpp"
#include "sojourn.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

// The per-stay accounting sits on the walks' hot path; GCC would otherwise
// call it (nine arguments, a sixth of the engine's time) rather than inline it.
#if defined(__GNUC__)
#define JOURNEYSIM_HOT_INLINE __attribute__((always_inline)) inline
#else
#define JOURNEYSIM_HOT_INLINE inline
#endif

namespace journeysim::detail {
namespace {

// Per-thread integer accumulators (difference arrays over calendar time); the
// order of integer additions does not matter, so threads may share blocks freely.
// "start" counts customer-times by the value piece of their tenure; "end" counts
// customer-times t >= 1 of tenure by the value piece of tenure - 1 (the piece of
// the period that led there), which is what end-of-period accrual needs.
struct Counts {
  std::vector<std::int64_t> start, end; // (T+2) x G x E x S
  std::vector<std::int64_t> cohort;     // (T+2) x S, starting cohort only
  Counts(std::size_t cells, std::size_t cohort_cells)
      : start(cells), end(cells), cohort(cohort_cells) {}
};

// Per-block floating-point sums, reduced in block order for reproducibility.
struct BlockSums {
  std::vector<double> moves, moves_nominal;      // T x K: values of moves
  std::vector<CompensatedSum> cvalue, cvalue_sq; // K and K+1 (net)
  double life = 0.0, life_sq = 0.0;              // integers: exact below 2^53
};

struct BlockEvents {
  std::vector<std::int64_t> customer;
  std::vector<std::int32_t> period, from, to;
};

// The blocks' sums of a replication, added block after block in block order
// (compensated: there can be millions of blocks).
struct Totals {
  std::vector<CompensatedSum> moves, moves_nominal, cvalue, cvalue_sq;
  CompensatedSum life, life_sq;
  Totals(std::size_t TK, std::size_t K)
      : moves(TK), moves_nominal(TK), cvalue(K), cvalue_sq(K + 1) {}
  void add(const BlockSums &b) {
    for (std::size_t i = 0; i < b.moves.size(); ++i) {
      moves[i].add(b.moves[i]);
      moves_nominal[i].add(b.moves_nominal[i]);
    }
    for (std::size_t k = 0; k < cvalue.size(); ++k) cvalue[k].add(b.cvalue[k].value());
    for (std::size_t k = 0; k < cvalue_sq.size(); ++k)
      cvalue_sq[k].add(b.cvalue_sq[k].value());
    life.add(b.life);
    life_sq.add(b.life_sq);
  }
};

class IndividualRun {
public:
  IndividualRun(const Journey &j, const SimulationOptions &o, SimulationControl *ctl)
      : j_(j), o_(o), ctl_(ctl), T_(o.periods), S_(static_cast<int>(j.n_stages())),
        K_(static_cast<int>(j.n_streams())), disc_(discount_table(j, o.periods)) {
    for (const auto &seg : j.segments()) tables_.push_back(make_tables(seg));
    if (sojourn_)
      for (const auto &seg : j.segments()) {
        std::vector<SojournSampler> per_piece;
        for (const auto &P : seg.transitions.pieces) per_piece.emplace_back(P);
        sojourn_tables_.push_back(std::move(per_piece));
      }
    for (const auto &t : tables_)
      E_ = std::max(E_, static_cast<int>(t.value_starts.size()));
    G_ = static_cast<int>(tables_.size());
    stride_ = static_cast<std::size_t>(G_ * E_ * S_);
    need_end_ = K_ > 0 && o.accrual != Accrual::Start;
    for (const auto &t : tables_) any_moves_ = any_moves_ || !t.moves.empty();
    share_cdf_.resize(static_cast<Index>(j.segments().size()));
    double c = 0.0;
    for (std::size_t g = 0; g < j.segments().size(); ++g)
      share_cdf_(static_cast<Index>(g)) = (c += j.segments()[g].share);
    share_last_ = last_positive(share_cdf_);
    for (const auto &t : tables_) start_last_.push_back(last_positive(t.start_cdf));
    for (int v : j.value_stages()) is_value_[static_cast<std::size_t>(v)] = true;
    for (std::size_t i = 0; i < j.n_stages(); ++i) absorbing_[i] = j.absorbing()[i];
    // geo_[k][tau] = sum_{m < tau} d^m: discounted periods in closed form.
    // Compensated: over thousands of periods the naive prefix sum drifts.
    for (const auto &d : disc_) {
      std::vector<double> g(static_cast<std::size_t>(T_) + 2, 0.0);
      CompensatedSum acc;
      for (std::size_t tau = 1; tau < g.size(); ++tau) {
        acc.add(d[2 * (tau - 1)]);
        g[tau] = acc.value();
      }
      geo_.push_back(std::move(g));
    }
  }

  // Simulates replication `rep` with `joins[t]` customers joining at t = 0..T.
  void run(int rep, const std::vector<std::int64_t> &joins, SimulationResult &out,
           int threads) {
    std::vector<std::int64_t> first_of(joins.size() + 1,
                                       0); // customer ids by join time
    for (std::size_t t = 0; t < joins.size(); ++t)
      first_of[t + 1] = first_of[t] + joins[t];
    const std::int64_t M = first_of.back();
    const std::int64_t n_blocks = (M + kBlock - 1) / kBlock;
    // With nobody arriving, the starting cohort is everyone: its occupancy is
    // the total's, so the stays need not be counted twice.
    cohort_apart_ = M != joins[0];
    const bool keep = rep == 0 && o_.per_customer;
    if (keep) {
      const auto m = static_cast<std::size_t>(M);
      assign_cancellable(out.lifetime, m, 0, ctl_);
      assign_cancellable(out.outcome, m, std::int16_t{-1}, ctl_);
      out.fixed = fixed_;
      if (!fixed_.start_stage)
        assign_cancellable(out.start_stage, m, std::int16_t{0}, ctl_);
      if (!fixed_.first_value) assign_cancellable(out.first_value, m, -1, ctl_);
      if (!fixed_.segment) assign_cancellable(out.segment, m, std::uint8_t{0}, ctl_);
      assign_cancellable(out.customer_value, m * static_cast<std::size_t>(K_), 0.0,
                         ctl_);
    }
    const bool events = rep == 0 && o_.record_events;
    const auto t2 = static_cast<std::size_t>(T_) + 2;
    std::vector<Counts> counts;
    for (int t = 0; t < threads; ++t)
      counts.emplace_back(t2 * static_cast<std::size_t>(G_ * E_ * S_),
                          t2 * static_cast<std::size_t>(S_));
    // Blocks run in waves; after each wave their sums are added in block order
    // and their events appended, so memory does not grow with the customers.
    const std::int64_t wave =
        std::min(wave_blocks(threads), std::max<std::int64_t>(n_blocks, 1));
    std::vector<BlockSums> sums(static_cast<std::size_t>(wave));
    std::vector<BlockEvents> ev(events ? static_cast<std::size_t>(wave) : 0);
    Totals totals(any_moves_ ? static_cast<std::size_t>(T_ * K_) : 0,
                  static_cast<std::size_t>(K_));
    std::atomic<std::int64_t> next{0};
    std::atomic<bool> stop{false};
    for (std::int64_t w0 = 0; w0 < n_blocks; w0 += wave) {
      const std::int64_t w1 = std::min(n_blocks, w0 + wave);
      next = w0;
      auto work = [&, w0, w1](int tid) {
        Counts &c = counts[static_cast<std::size_t>(tid)];
        for (;;) {
          const std::int64_t b = next.fetch_add(1);
          if (b >= w1 || stop.load(std::memory_order_relaxed)) return;
          const auto slot = static_cast<std::size_t>(b - w0);
          if (cancelled(ctl_) ||
              !run_block_as(rep, b, M, first_of, c, sums[slot],
                            events ? &ev[slot] : nullptr, keep ? &out : nullptr)) {
            stop = true;
            return;
          }
        }
      };
      const int n = static_cast<int>(std::min<std::int64_t>(threads, w1 - w0));
      if (n <= 1) {
        work(0);
      } else {
        std::vector<std::thread> pool;
        for (int t = 0; t < n; ++t) pool.emplace_back(work, t);
        for (auto &th : pool) th.join();
      }
      if (stop || cancelled(ctl_)) throw SimulationCancelled();
      for (std::int64_t b = w0; b < w1; ++b) {
        const auto slot = static_cast<std::size_t>(b - w0);
        totals.add(sums[slot]);
        if (events) {
          auto &e = ev[slot];
          out.event_customer.insert(out.event_customer.end(), e.customer.begin(),
                                    e.customer.end());
          out.event_period.insert(out.event_period.end(), e.period.begin(),
                                  e.period.end());
          out.event_from.insert(out.event_from.end(), e.from.begin(), e.from.end());
          out.event_to.insert(out.event_to.end(), e.to.begin(), e.to.end());
          e = BlockEvents{};
        }
      }
    }
    reduce(rep, counts, totals, out);
  }

private:
  [[nodiscard]] std::size_t cell(int t, int g, int e, int s) const {
    return ((static_cast<std::size_t>(t) * static_cast<std::size_t>(G_) +
             static_cast<std::size_t>(g)) *
                static_cast<std::size_t>(E_) +
            static_cast<std::size_t>(e)) *
               static_cast<std::size_t>(S_) +
           static_cast<std::size_t>(s);
  }

  // The customer (segment g, joined at J, horizon H) was in stage s at tenures
  // [a, b), b <= H + 1: count it, and add its discounted stage value to cv.
  template <Accrual A>
  JOURNEYSIM_HOT_INLINE void sojourn(const SegmentTables &tab, int g, int J, int H,
                                     int s, int a, int b, Counts &c, double *cv) const {
    if (J == 0 && cohort_apart_) {
      ++c.cohort[static_cast<std::size_t>(a) * static_cast<std::size_t>(S_) +
                 static_cast<std::size_t>(s)];
      --c.cohort[static_cast<std::size_t>(b) * static_cast<std::size_t>(S_) +
                 static_cast<std::size_t>(s)];
    }
    if (tab.value_starts.size() == 1) {
      one_piece_stay<A>(tab, g, J, H, s, a, b, c, cv);
    } else {
      piecewise_stay<A>(tab, g, J, H, s, a, b, c, cv);
    }
  }

  // sojourn() with one value piece (the common case, kept small enough to be
  // inlined into the walks: a call per stay was a sixth of the engine's
  // time): the loop of piecewise_stay with its bounds worked out, lo = 0 and
  // hi = H + 2.
  template <Accrual A>
  JOURNEYSIM_HOT_INLINE void one_piece_stay(const SegmentTables &tab, int g, int J,
                                            int H, int s, int a, int b, Counts &c,
                                            double *cv) const {
    const std::size_t at = cell(0, g, 0, s);
    const auto ta = static_cast<std::size_t>(J + a),
               tb = static_cast<std::size_t>(J + b);
    ++c.start[at + ta * stride_];
    --c.start[at + tb * stride_];
    const int e0 = std::max(a, 1);
    if (need_end_ && e0 < b) {
      ++c.end[at + static_cast<std::size_t>(J + e0) * stride_];
      --c.end[at + tb * stride_];
    }
    if (K_)
      add_values<A>(tab, 0, s, a, std::min(b, H), std::max(a - 1, 0),
                    std::min(b - 1, H), cv);
  }

  // sojourn() over the value pieces of the customer's tenure.
  template <Accrual A>
  void piecewise_stay(const SegmentTables &tab, int g, int J, int H, int s, int a,
                      int b, Counts &c, double *cv) const {
    const auto &vs = tab.value_starts;
    const int E = static_cast<int>(vs.size());
    for (int e = 0; e < E; ++e) {
      const int lo = e == 0 ? 0 : vs[static_cast<std::size_t>(e)];
      const int hi = e + 1 < E ? vs[static_cast<std::size_t>(e) + 1] : H + 2;
      // start counts: tenures in [a, b) within this piece
      const int s0 = std::max(a, lo), s1 = std::min(b, hi);
      if (s0 < s1) {
        ++c.start[cell(J + s0, g, e, s)];
        --c.start[cell(J + s1, g, e, s)];
      }
      // end counts: tenures k >= 1 in [a, b) whose period k - 1 is in this piece
      const int e0 = std::max({a, 1, lo + 1}), e1 = std::min(b, hi + 1);
      if (need_end_ && e0 < e1) {
        ++c.end[cell(J + e0, g, e, s)];
        --c.end[cell(J + e1, g, e, s)];
      }
      if (!K_) continue;
      const int m0 = std::max(a, lo), m1 = std::min({b, H, hi});
      const int n0 = std::max({a - 1, 0, lo}), n1 = std::min({b - 1, H, hi});
      add_values<A>(tab, e, s, m0, m1, n0, n1, cv);
    }
  }

  // Per-customer value of a stay in s within value piece e, discounted to the
  // customer's start:
  //   start part    sum_{m in [m0, m1)} v(m) d^m   (m0 = max(a, lo), ...)
  //   end part    d sum_{m in [n0, n1)} v(m) d^m   (n0 = max(a - 1, 0, lo), ...)
  template <Accrual A>
  JOURNEYSIM_HOT_INLINE void add_values(const SegmentTables &tab, int e, int s, int m0,
                                        int m1, int n0, int n1, double *cv) const {
    const Matrix &values = tab.values[static_cast<std::size_t>(e)];
    for (int k = 0; k < K_; ++k) {
      const double v = values(s, k);
      if (v == 0.0) continue;
      const double *geo = geo_[static_cast<std::size_t>(k)].data();
      const auto span = [geo](int from, int to) {
        return from < to ? geo[to] - geo[from] : 0.0;
      };
      const double *d = disc_[static_cast<std::size_t>(k)].data();
      if constexpr (A == Accrual::Start) {
        cv[k] += v * span(m0, m1);
      } else if constexpr (A == Accrual::End) {
        cv[k] += v * d[2] * span(n0, n1);
      } else if constexpr (A == Accrual::HalfCycle) {
        cv[k] += 0.5 * v * (d[1] * span(m0, m1) + d[1] * span(n0, n1));
      } else { // life table: both halves discounted to the period's start
        cv[k] += 0.5 * v * (span(m0, m1) + span(n0, n1));
      }
    }
  }

  // run_block for the run's accrual: chosen once per block, so that the
  // walks and their per-stay accounting are compiled for it.
  bool run_block_as(int rep, std::int64_t b, std::int64_t M,
                    const std::vector<std::int64_t> &first_of, Counts &c,
                    BlockSums &sum, BlockEvents *ev, SimulationResult *keep) {
    switch (o_.accrual) {
    case Accrual::Start:
      return run_block<Accrual::Start>(rep, b, M, first_of, c, sum, ev, keep);
    case Accrual::End:
      return run_block<Accrual::End>(rep, b, M, first_of, c, sum, ev, keep);
    case Accrual::HalfCycle:
      return run_block<Accrual::HalfCycle>(rep, b, M, first_of, c, sum, ev, keep);
    case Accrual::LifeTable:
      break;
    }
    return run_block<Accrual::LifeTable>(rep, b, M, first_of, c, sum, ev, keep);
  }

  // Simulates block b; false if cancelled part-way (a block of 4,096 customers
  // over thousands of periods takes long enough to need checks inside it).
  template <Accrual A>
  bool run_block(int rep, std::int64_t b, std::int64_t M,
                 const std::vector<std::int64_t> &first_of, Counts &c, BlockSums &sum,
                 BlockEvents *ev, SimulationResult *keep) {
    const auto K = static_cast<std::size_t>(K_);
    // Values of moves by period only when the journey has any.
    sum.moves.assign(any_moves_ ? static_cast<std::size_t>(T_) * K : 0, 0.0);
    sum.moves_nominal.assign(any_moves_ ? static_cast<std::size_t>(T_) * K : 0, 0.0);
    sum.life = sum.life_sq = 0.0;
    sum.cvalue.assign(K, CompensatedSum{});
    sum.cvalue_sq.assign(K + 1, CompensatedSum{}); // streams, then net
    // The customer's values, zeroed again once added (a call to memset per
    // customer cost a tenth of the engine's time).
    double cv[kMaxStreams] = {};
    // The cohort's values and squares, summed plainly over kPart customers at
    // a time and then into the block's compensated sums: the compensated
    // step's dependency chain per customer cost a tenth of the engine's time.
    double part[kMaxStreams] = {}, part_sq[kMaxStreams + 1] = {};
    int in_part = 0;
    const auto flush = [&] {
      for (std::size_t k = 0; k < K; ++k) {
        sum.cvalue[k].add(part[k]);
        sum.cvalue_sq[k].add(part_sq[k]);
        part[k] = part_sq[k] = 0.0;
      }
      sum.cvalue_sq[K].add(part_sq[K]);
      part_sq[K] = 0.0;
      in_part = 0;
    };
    const double *net_w = j_.net_weights().data();
    const std::uint64_t key =
        CustomerStream::key(o_.seed, static_cast<std::uint64_t>(rep));
    const std::int64_t lo = b * kBlock, hi = std::min(M, lo + kBlock);
    int J = static_cast<int>(std::upper_bound(first_of.begin(), first_of.end(), lo) -
                             first_of.begin()) -
            1;
    std::int64_t steps = 0, checked = 0;
    for (std::int64_t id = lo; id < hi; ++id) {
      if (steps - checked >= kCheckEvery) {
        checked = steps;
        if (cancelled(ctl_)) return false;
      }
      while (id >= first_of[static_cast<std::size_t>(J) + 1]) ++J;
      CustomerStream cs(key, static_cast<std::uint64_t>(id));
      // Each customer's own stream: read in turn by the sojourn engine, by
      // draw number (segment, start, one per tenure) by the period engine.
      // A draw with one possible outcome is skipped, not computed (the stream
      // still moves past it: the same numbers follow).
      const int g = share_last_ == 0 ? (cs.skip(), 0)
                                     : draw_upto(share_cdf_, share_last_,
                                                 sojourn_ ? cs.uniform() : cs.at(0));
      const SegmentTables &tab = tables_[static_cast<std::size_t>(g)];
      const int start_last = start_last_[static_cast<std::size_t>(g)];
      const int s0 = start_last == 0 ? (cs.skip(), 0)
                                     : draw_upto(tab.start_cdf, start_last,
                                                 sojourn_ ? cs.uniform() : cs.at(1));
      Customer w{id, g, J, T_ - J, s0};
      if (keep && !fixed_.start_stage)
        keep->start_stage[static_cast<std::size_t>(id)] =
            static_cast<std::int16_t>(w.s);
      const bool cohort = J == 0;
      const int H = w.H; // periods this customer lives through
      w.first = is_value_[static_cast<std::size_t>(w.s)] ? 0 : -1;
      w.absorbed = absorbing_[static_cast<std::size_t>(w.s)];
      if (sojourn_) {
        if (!w.absorbed) walk_sojourns<A>(tab, w, cs, c, sum, ev, cv);
      } else {
        if (!w.absorbed) walk_periods<A>(tab, w, cs, c, sum, ev, cv);
      }
      sojourn<A>(tab, g, J, H, w.s, w.a, H + 1, c, cv);
      const int life = w.absorbed ? w.a : H;
      steps += H;
      if (keep) {
        const auto i = static_cast<std::size_t>(id);
        keep->lifetime[i] = life;
        keep->outcome[i] =
            w.absorbed ? static_cast<std::int16_t>(w.s) : std::int16_t{-1};
        if (!fixed_.first_value) keep->first_value[i] = w.first;
        if (!fixed_.segment) keep->segment[i] = static_cast<std::uint8_t>(g);
        for (std::size_t k = 0; k < K; ++k) keep->customer_value[i * K + k] = cv[k];
      }
      if (cohort) {
        double net = 0.0;
        for (std::size_t k = 0; k < K; ++k) {
          part[k] += cv[k];
          part_sq[k] += cv[k] * cv[k];
          net += net_w[k] * cv[k];
          cv[k] = 0.0;
        }
        part_sq[K] += net * net;
        sum.life += life;
        sum.life_sq += static_cast<double>(life) * life;
        if (++in_part == kPart) flush();
      } else {
        for (std::size_t k = 0; k < K; ++k) cv[k] = 0.0;
      }
    }
    flush();
    if (ctl_) ctl_->steps_done.fetch_add(steps, std::memory_order_relaxed);
    return true;
  }

  // One customer on its way: who, its segment, when it joined, the periods it
  // lives through, its stage and the tenure it entered it, its first tenure in
  // a value stage (-1: none yet), whether it has left the journey.
  struct Customer {
    std::int64_t id;
    int g, J, H, s;
    int a = 0, first = -1;
    bool absorbed = false;
  };

  // The customer moves to `next` in period tau + 1: close its stay, account the
  // move, log it.
  template <Accrual A>
  JOURNEYSIM_HOT_INLINE void move(const SegmentTables &tab, Customer &w, int next,
                                  int tau, Counts &c, BlockSums &sum, BlockEvents *ev,
                                  double *cv) const {
    sojourn<A>(tab, w.g, w.J, w.H, w.s, w.a, tau + 1, c, cv);
    if (!tab.moves.empty()) on_move(tab, w.s, next, tau, w.J, cv, sum);
    if (ev) {
      ev->customer.push_back(w.id);
      ev->period.push_back(w.J + tau + 1);
      ev->from.push_back(w.s);
      ev->to.push_back(next);
    }
    if (w.first < 0 && is_value_[static_cast<std::size_t>(next)]) w.first = tau + 1;
    w.s = next;
    w.a = tau + 1;
    w.absorbed = absorbing_[static_cast<std::size_t>(next)];
  }

  // The period engine: one draw per period until absorbed, draw 2 + tau of the
  // customer's stream for the move of tenure tau (as the capacity engine).
  template <Accrual A>
  void walk_periods(const SegmentTables &tab, Customer &w, const CustomerStream &cs,
                    Counts &c, BlockSums &sum, BlockEvents *ev, double *cv) const {
    // Tenure pieces of the transitions: hoist the sampler while it holds.
    int tau = 0;
    for (std::size_t p = 0; p < tab.samplers.size() && !w.absorbed; ++p) {
      const RowSampler &rs = tab.samplers[p];
      const int until = p + 1 < tab.trans_starts.size()
                            ? std::min(w.H, tab.trans_starts[p + 1])
                            : w.H;
      for (; tau < until; ++tau) {
        const int next = rs.draw(w.s, cs.at(2 + static_cast<std::uint64_t>(tau)));
        if (next == w.s) continue;
        move<A>(tab, w, next, tau, c, sum, ev, cv);
        if (w.absorbed) {
          ++tau;
          break;
        }
      }
    }
  }

  // The sojourn engine: per stay, one draw for its length and one for where the
  // customer goes. A stay that reaches the end of a tenure piece (or the
  // horizon) is cut there and drawn afresh from the next piece's stay
  // probability: geometric stays forget how long they have lasted.
  template <Accrual A>
  void walk_sojourns(const SegmentTables &tab, Customer &w, CustomerStream &cs,
                     Counts &c, BlockSums &sum, BlockEvents *ev, double *cv) const {
    const auto &samplers = sojourn_tables_[static_cast<std::size_t>(w.g)];
    int tau = 0; // the next period the customer starts in w.s is tau + 1
    for (std::size_t p = 0; p < samplers.size() && !w.absorbed; ++p) {
      const SojournSampler &ss = samplers[p];
      const int until = p + 1 < tab.trans_starts.size()
                            ? std::min(w.H, tab.trans_starts[p + 1])
                            : w.H;
      while (tau < until) {
        tau += ss.stays(w.s, cs.bits(), until - tau);
        if (tau >= until) break;
        move<A>(tab, w, ss.exit(w.s, cs.bits()), tau, c, sum, ev, cv);
        ++tau;
        if (w.absorbed) break;
      }
    }
  }

  // The value of a move s -> next in period tau + 1 (discounted like "end").
  void on_move(const SegmentTables &tab, int s, int next, int tau, int J, double *cv,
               BlockSums &sum) const {
    const auto period = static_cast<std::size_t>(J + tau); // calendar period - 1
    const auto K = static_cast<std::size_t>(K_);
    for (std::size_t k = 0; k < K; ++k) {
      const double m = tab.moves[k](s, next);
      if (m == 0.0) continue;
      const auto &d = disc_[k];
      cv[k] += m * d[2 * static_cast<std::size_t>(tau) + 2];
      sum.moves[period * K + k] += m * d[2 * period + 2];
      sum.moves_nominal[period * K + k] += m;
    }
  }

  void reduce(int rep, std::vector<Counts> &counts, const Totals &totals,
              SimulationResult &out) const {
    const auto T = static_cast<std::size_t>(T_), S = static_cast<std::size_t>(S_),
               K = static_cast<std::size_t>(K_), G = static_cast<std::size_t>(G_),
               E = static_cast<std::size_t>(E_);
    const std::size_t row = G * E * S;
    // Sum the threads' difference arrays, then integrate over time.
    Counts &total = counts[0];
    for (std::size_t t = 1; t < counts.size(); ++t) {
      for (std::size_t i = 0; i < total.start.size(); ++i) {
        total.start[i] += counts[t].start[i];
        total.end[i] += counts[t].end[i];
      }
      for (std::size_t i = 0; i < total.cohort.size(); ++i)
        total.cohort[i] += counts[t].cohort[i];
    }
    for (std::size_t t = 1; t <= T + 1; ++t) {
      for (std::size_t i = 0; i < row; ++i) {
        total.start[t * row + i] += total.start[(t - 1) * row + i];
        total.end[t * row + i] += total.end[(t - 1) * row + i];
      }
    }
    const std::size_t occ0 = static_cast<std::size_t>(rep) * (T + 1) * S;
    for (std::size_t t = 0; t <= T; ++t) {
      for (std::size_t i = 0; i < row; ++i)
        out.occupancy[occ0 + t * S + i % S] += total.start[t * row + i];
      for (std::size_t i = 0; i < S; ++i) {
        if (!cohort_apart_) {
          out.cohort_occupancy[occ0 + t * S + i] = out.occupancy[occ0 + t * S + i];
          continue;
        }
        if (t > 0) total.cohort[t * S + i] += total.cohort[(t - 1) * S + i];
        out.cohort_occupancy[occ0 + t * S + i] = total.cohort[t * S + i];
      }
    }
    // Value by calendar period from the counts (integers: order-free).
    const std::size_t v0 = static_cast<std::size_t>(rep) * T * K;
    for (std::size_t c = 1; c <= T; ++c)
      for (std::size_t g = 0; g < G; ++g) {
        const auto &tab = tables_[g];
        for (std::size_t e = 0; e < tab.values.size(); ++e)
          for (std::size_t s = 0; s < S; ++s) {
            const auto ns =
                static_cast<double>(total.start[(c - 1) * row + (g * E + e) * S + s]);
            const auto ne =
                static_cast<double>(total.end[c * row + (g * E + e) * S + s]);
            for (std::size_t k = 0; k < K; ++k) {
              const double v =
                  tab.values[e](static_cast<Index>(s), static_cast<Index>(k));
              if (v == 0.0) continue;
              const auto &d = disc_[k];
              double nominal = 0.0, disc = 0.0;
              switch (o_.accrual) {
              case Accrual::Start:
                nominal = ns * v;
                disc = nominal * d[2 * (c - 1)];
                break;
              case Accrual::End:
                nominal = ne * v;
                disc = nominal * d[2 * c];
                break;
              case Accrual::HalfCycle:
                nominal = 0.5 * (ns + ne) * v;
                disc = nominal * d[2 * c - 1];
                break;
              case Accrual::LifeTable:
                nominal = 0.5 * (ns + ne) * v;
                disc = nominal * d[2 * (c - 1)];
                break;
              }
              out.value_by_period[v0 + (c - 1) * K + k] += disc;
              out.value_by_period_nominal[v0 + (c - 1) * K + k] += nominal;
            }
          }
      }
    const std::size_t k0 = static_cast<std::size_t>(rep) * K;
    for (std::size_t i = 0; i < totals.moves.size(); ++i) {
      out.value_by_period[v0 + i] += totals.moves[i].value();
      out.value_by_period_nominal[v0 + i] += totals.moves_nominal[i].value();
    }
    for (std::size_t k = 0; k < K; ++k)
      out.cohort_value[k0 + k] = totals.cvalue[k].value();
    for (std::size_t k = 0; k <= K; ++k)
      out.cohort_value_sq[static_cast<std::size_t>(rep) * (K + 1) + k] =
          totals.cvalue_sq[k].value();
    out.cohort_lifetime[static_cast<std::size_t>(rep)] = totals.life.value();
    out.cohort_lifetime_sq[static_cast<std::size_t>(rep)] = totals.life_sq.value();
  }

  static constexpr int kMaxStreams = 64;
  static constexpr int kPart = 64; // customers per plain partial sum
  const Journey &j_;
  const SimulationOptions &o_;
  SimulationControl *ctl_;
  int T_, S_, K_, G_ = 1, E_ = 1;
  std::size_t stride_ = 1; // G x E x S: one period of the counts
  bool sojourn_ = o_.engine == Engine::Sojourn;
  bool need_end_ = false;    // end-of-period counts, for every accrual but "start"
  bool cohort_apart_ = true; // this replication has arrivals: count the cohort apart
  bool any_moves_ = false;   // some segment has values on moves
  std::vector<std::vector<double>> disc_, geo_;
  std::vector<SegmentTables> tables_;
  std::vector<std::vector<SojournSampler>> sojourn_tables_; // per segment, piece
  Vector share_cdf_;
  int share_last_ = 0;          // last segment with a positive share
  std::vector<int> start_last_; // per segment: last stage one may start in
  std::vector<char> is_value_ = std::vector<char>(j_.n_stages(), 0);
  FixedColumns fixed_ = fixed_columns(j_); // per-customer columns not stored
  std::vector<char> absorbing_ = std::vector<char>(j_.n_stages(), 0);
};

} // namespace

void run_individual(const Journey &j, const SimulationOptions &o,
                    SimulationControl *ctl,
                    const std::vector<std::vector<std::int64_t>> &joins,
                    SimulationResult &out, int threads) {
  IndividualRun run(j, o, ctl);
  for (std::size_t rep = 0; rep < joins.size(); ++rep)
    run.run(static_cast<int>(rep), joins[rep], out, threads);
}

} // namespace journeysim::detail
