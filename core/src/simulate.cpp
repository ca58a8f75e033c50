#include "journeysim/simulate.hpp"

#include "journeysim/exact.hpp"

#include <boost/random/binomial_distribution.hpp>
#include <boost/random/mersenne_twister.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace journeysim {
namespace {

using Index = Eigen::Index;
using Rng = boost::random::mt19937_64;
constexpr std::int64_t kBlock = 4096; // customers per random stream

// SplitMix64 finaliser: decorrelates the seeds of neighbouring streams.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t rep, std::uint64_t block) {
  return mix(mix(mix(seed) ^ rep) ^ (block + 0x632be59bd9b4e019ULL));
}

// A uniform double in [0, 1) with 53 random bits.
inline double uniform(Rng &rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Inverse-CDF sampling of each row with a guide table (Chen's indexed search):
// O(1) expected, and monotone in the uniform, so that a small change of the
// probabilities changes few customers' paths (good common random numbers). Each
// row is laid out "stay first, then the other stages in order": most steps stay
// put, and those cost one comparison.
struct RowSampler {
  int n = 0;
  double n_real = 0.0;
  std::vector<double> stay;        // n
  std::vector<double> cdf;         // n x n, cumulative over positions
  std::vector<std::int32_t> stage; // n x n, the stage at each position
  std::vector<std::int32_t> guide; // n x n: first position with cdf > g / n

  explicit RowSampler(const Matrix &P)
      : n(static_cast<int>(P.rows())), n_real(static_cast<double>(P.rows())) {
    const auto nn = static_cast<std::size_t>(n);
    stay.resize(nn);
    cdf.resize(nn * nn);
    stage.resize(nn * nn);
    guide.resize(nn * nn);
    for (int i = 0; i < n; ++i) {
      const std::size_t row = static_cast<std::size_t>(i) * nn;
      stay[static_cast<std::size_t>(i)] = P(i, i);
      double c = 0.0;
      std::size_t pos = 0, last = 0;
      auto put = [&](int j) {
        c += P(i, j);
        if (P(i, j) > 0.0) last = pos;
        cdf[row + pos] = c;
        stage[row + pos] = j;
        ++pos;
      };
      put(i);
      for (int j = 0; j < n; ++j)
        if (j != i) put(j);
      // Rounding must never let a draw fall past the last possible stage.
      for (std::size_t q = last; q < nn; ++q) cdf[row + q] = 2.0;
      std::size_t q = 0;
      for (std::size_t g = 0; g < nn; ++g) {
        const double lo = static_cast<double>(g) / n;
        while (cdf[row + q] <= lo) ++q;
        guide[row + g] = static_cast<std::int32_t>(q);
      }
    }
  }
  [[nodiscard]] int draw(int i, double u) const {
    if (u < stay[static_cast<std::size_t>(i)]) return i;
    const std::size_t row = static_cast<std::size_t>(i) * static_cast<std::size_t>(n);
    auto q =
        static_cast<std::size_t>(guide[row + static_cast<std::size_t>(u * n_real)]);
    while (cdf[row + q] <= u) ++q;
    return stage[row + q];
  }
};

// What the simulation needs of one segment: a sampler per transition piece,
// the stage values per value piece, and the values of moves.
struct SegmentTables {
  std::vector<int> trans_starts;
  std::vector<RowSampler> samplers;
  std::vector<int> value_starts; // union of the streams' value pieces
  std::vector<Matrix> values;    // per value piece: S x K
  std::vector<Matrix> moves;     // K matrices S x S, or empty
  Vector start_cdf;

  // The sampler for tenure tau (pieces are few; tau only grows per customer).
  [[nodiscard]] const RowSampler &sampler_at(int tau) const {
    std::size_t p = 0;
    while (p + 1 < trans_starts.size() && trans_starts[p + 1] <= tau) ++p;
    return samplers[p];
  }
};

SegmentTables make_tables(const Segment &seg) {
  SegmentTables t;
  t.trans_starts = seg.transitions.starts;
  for (const auto &P : seg.transitions.pieces) t.samplers.emplace_back(P);
  std::set<int> starts{0};
  for (const auto &vs : seg.streams)
    starts.insert(vs.stage_values.starts.begin(), vs.stage_values.starts.end());
  t.value_starts.assign(starts.begin(), starts.end());
  const auto K = static_cast<Index>(seg.streams.size());
  const auto n = seg.start.size();
  for (int st : t.value_starts) {
    Matrix v(n, K);
    for (Index k = 0; k < K; ++k)
      v.col(k) = seg.streams[static_cast<std::size_t>(k)].stage_values.at(st);
    t.values.push_back(std::move(v));
  }
  bool any_moves = false;
  for (const auto &vs : seg.streams) any_moves |= vs.transition_values.size() != 0;
  if (any_moves)
    for (const auto &vs : seg.streams)
      t.moves.push_back(vs.transition_values.size() ? vs.transition_values
                                                    : Matrix::Zero(n, n));
  t.start_cdf.resize(n);
  double c = 0.0;
  for (Index i = 0; i < n; ++i) t.start_cdf(i) = (c += seg.start(i));
  return t;
}

int draw_from_cdf(const Vector &cdf, double u) {
  // Last stage with positive mass takes whatever rounding leaves over.
  const Index n = cdf.size();
  Index last = n - 1;
  while (last > 0 && cdf(last) == cdf(last - 1)) --last;
  for (Index i = 0; i < last; ++i)
    if (u < cdf(i)) return static_cast<int>(i);
  return static_cast<int>(last);
}

// Discount factors d^x for x = 0, 1/2, 1, 3/2, ... (index 2x), per stream.
std::vector<std::vector<double>> discount_table(const Journey &j, int T) {
  std::vector<std::vector<double>> out;
  for (const auto &vs : j.segments()[0].streams) {
    const double d = 1.0 / (1.0 + vs.discount_rate);
    std::vector<double> p(static_cast<std::size_t>(2 * T + 3));
    for (std::size_t h = 0; h < p.size(); ++h)
      p[h] = std::pow(d, 0.5 * static_cast<double>(h));
    out.push_back(std::move(p));
  }
  return out;
}

void check_options(const Journey &j, const SimulationOptions &o) {
  if (o.customers <= 0)
    throw std::invalid_argument("customers must be > 0, got " +
                                std::to_string(o.customers));
  if (o.periods <= 0)
    throw std::invalid_argument("periods must be > 0, got " +
                                std::to_string(o.periods));
  if (o.replications <= 0)
    throw std::invalid_argument("replications must be > 0, got " +
                                std::to_string(o.replications));
  if (o.threads < 0)
    throw std::invalid_argument("threads must be >= 1, got " +
                                std::to_string(o.threads));
  if (j.segments().size() > 255)
    throw std::invalid_argument("simulation supports at most 255 segments");
  if (j.n_streams() > 64)
    throw std::invalid_argument("simulation supports at most 64 value streams");
  if (j.n_stages() > 32767)
    throw std::invalid_argument("simulation supports at most 32767 stages");
}

void check_capacity(const Journey &j, const SimulationOptions &o,
                    const std::vector<CapacityRule> &rules) {
  if (rules.empty()) return;
  if (o.method != Method::Individual)
    throw std::invalid_argument("capacity needs method='individual'");
  if (rules.size() > 64) throw std::invalid_argument("at most 64 capacity limits");
  const auto G = j.segments().size();
  for (const auto &r : rules) {
    if (r.capacity < 0) throw std::invalid_argument("capacity must be >= 0");
    if (r.rank.size() != j.n_stages() || r.touched.size() != G ||
        r.fallback.size() != G)
      throw std::invalid_argument("capacity rule sizes do not match the journey");
    for (int f : r.fallback)
      if (f < 0 || static_cast<std::size_t>(f) >= G)
        throw std::invalid_argument("capacity fallback segment out of range");
  }
}

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
  std::vector<double> moves, moves_nominal; // T x K: values of moves
  std::vector<double> cvalue, cvalue_sq;    // K and K+1 (net)
  double life = 0.0, life_sq = 0.0;
};

struct BlockEvents {
  std::vector<std::int64_t> customer;
  std::vector<std::int32_t> period, from, to;
};

class IndividualRun {
public:
  IndividualRun(const Journey &j, const SimulationOptions &o, SimulationControl *ctl)
      : j_(j), o_(o), ctl_(ctl), T_(o.periods), S_(static_cast<int>(j.n_stages())),
        K_(static_cast<int>(j.n_streams())), disc_(discount_table(j, o.periods)) {
    for (const auto &seg : j.segments()) tables_.push_back(make_tables(seg));
    for (const auto &t : tables_)
      E_ = std::max(E_, static_cast<int>(t.value_starts.size()));
    G_ = static_cast<int>(tables_.size());
    need_end_ = K_ > 0 && o.accrual != Accrual::Start;
    share_cdf_.resize(static_cast<Index>(j.segments().size()));
    double c = 0.0;
    for (std::size_t g = 0; g < j.segments().size(); ++g)
      share_cdf_(static_cast<Index>(g)) = (c += j.segments()[g].share);
    for (int v : j.value_stages()) is_value_[static_cast<std::size_t>(v)] = true;
    for (std::size_t i = 0; i < j.n_stages(); ++i) absorbing_[i] = j.absorbing()[i];
    // geo_[k][tau] = sum_{m < tau} d^m: discounted periods in closed form.
    for (const auto &d : disc_) {
      std::vector<double> g(static_cast<std::size_t>(T_) + 2, 0.0);
      for (std::size_t tau = 1; tau < g.size(); ++tau)
        g[tau] = g[tau - 1] + d[2 * (tau - 1)];
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
    const bool keep = rep == 0 && o_.per_customer;
    if (keep) {
      const auto m = static_cast<std::size_t>(M);
      out.lifetime.assign(m, 0);
      out.outcome.assign(m, -1);
      out.first_value.assign(m, -1);
      out.segment.assign(m, 0);
      out.customer_value.assign(m * static_cast<std::size_t>(K_), 0.0);
    }
    const bool events = rep == 0 && o_.record_events;
    std::vector<BlockSums> sums(static_cast<std::size_t>(n_blocks));
    std::vector<BlockEvents> ev(events ? static_cast<std::size_t>(n_blocks) : 0);
    const auto t2 = static_cast<std::size_t>(T_) + 2;
    std::vector<Counts> counts;
    for (int t = 0; t < threads; ++t)
      counts.emplace_back(t2 * static_cast<std::size_t>(G_ * E_ * S_),
                          t2 * static_cast<std::size_t>(S_));
    std::atomic<std::int64_t> next{0};
    std::atomic<bool> stop{false};
    auto work = [&](int tid) {
      Counts &c = counts[static_cast<std::size_t>(tid)];
      for (;;) {
        const std::int64_t b = next.fetch_add(1);
        if (b >= n_blocks || stop.load(std::memory_order_relaxed)) return;
        if (ctl_ && ctl_->cancel.load(std::memory_order_relaxed)) {
          stop = true;
          return;
        }
        run_block(rep, b, M, first_of, c, sums[static_cast<std::size_t>(b)],
                  events ? &ev[static_cast<std::size_t>(b)] : nullptr,
                  keep ? &out : nullptr);
      }
    };
    if (threads == 1) {
      work(0);
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) pool.emplace_back(work, t);
      for (auto &th : pool) th.join();
    }
    if (stop || (ctl_ && ctl_->cancel.load())) throw SimulationCancelled();
    reduce(rep, counts, sums, out);
    if (events)
      for (auto &e : ev) {
        out.event_customer.insert(out.event_customer.end(), e.customer.begin(),
                                  e.customer.end());
        out.event_period.insert(out.event_period.end(), e.period.begin(),
                                e.period.end());
        out.event_from.insert(out.event_from.end(), e.from.begin(), e.from.end());
        out.event_to.insert(out.event_to.end(), e.to.begin(), e.to.end());
      }
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
  void sojourn(const SegmentTables &tab, int g, int J, int H, int s, int a, int b,
               Counts &c, double *cv) const {
    if (J == 0) {
      ++c.cohort[static_cast<std::size_t>(a) * static_cast<std::size_t>(S_) +
                 static_cast<std::size_t>(s)];
      --c.cohort[static_cast<std::size_t>(b) * static_cast<std::size_t>(S_) +
                 static_cast<std::size_t>(s)];
    }
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
      // Per-customer value, discounted to the customer's start:
      //   start part  sum_{m in [a, min(b,H))}          v(m) d^m
      //   end part  d sum_{m in [max(a-1,0), min(b-1,H))} v(m) d^m
      const int m0 = std::max(a, lo), m1 = std::min({b, H, hi});
      const int n0 = std::max({a - 1, 0, lo}), n1 = std::min({b - 1, H, hi});
      for (int k = 0; k < K_; ++k) {
        const double v = tab.values[static_cast<std::size_t>(e)](s, k);
        if (v == 0.0) continue;
        const auto &geo = geo_[static_cast<std::size_t>(k)];
        const double st = m0 < m1 ? geo[static_cast<std::size_t>(m1)] -
                                        geo[static_cast<std::size_t>(m0)]
                                  : 0.0;
        const double en = n0 < n1 ? geo[static_cast<std::size_t>(n1)] -
                                        geo[static_cast<std::size_t>(n0)]
                                  : 0.0;
        const auto &d = disc_[static_cast<std::size_t>(k)];
        switch (o_.accrual) {
        case Accrual::Start:
          cv[k] += v * st;
          break;
        case Accrual::End:
          cv[k] += v * d[2] * en;
          break;
        case Accrual::HalfCycle:
          cv[k] += 0.5 * v * (d[1] * st + d[1] * en);
          break;
        }
      }
    }
  }

  void run_block(int rep, std::int64_t b, std::int64_t M,
                 const std::vector<std::int64_t> &first_of, Counts &c, BlockSums &sum,
                 BlockEvents *ev, SimulationResult *keep) {
    Rng rng(stream_seed(o_.seed, static_cast<std::uint64_t>(rep),
                        static_cast<std::uint64_t>(b)));
    const auto K = static_cast<std::size_t>(K_);
    sum.moves.assign(static_cast<std::size_t>(T_) * K, 0.0);
    sum.moves_nominal.assign(static_cast<std::size_t>(T_) * K, 0.0);
    sum.cvalue.assign(K, 0.0);
    sum.cvalue_sq.assign(K + 1, 0.0); // streams, then net
    double cv[kMaxStreams];
    const std::int64_t lo = b * kBlock, hi = std::min(M, lo + kBlock);
    int J = static_cast<int>(std::upper_bound(first_of.begin(), first_of.end(), lo) -
                             first_of.begin()) -
            1;
    std::int64_t steps = 0;
    for (std::int64_t id = lo; id < hi; ++id) {
      while (id >= first_of[static_cast<std::size_t>(J) + 1]) ++J;
      std::fill(cv, cv + K, 0.0);
      const int g = draw_from_cdf(share_cdf_, uniform(rng));
      const SegmentTables &tab = tables_[static_cast<std::size_t>(g)];
      int s = draw_from_cdf(tab.start_cdf, uniform(rng));
      const bool cohort = J == 0;
      const int H = T_ - J; // periods this customer lives through
      int first = is_value_[static_cast<std::size_t>(s)] ? 0 : -1;
      int a = 0;    // tenure at which the customer entered s
      int used = 0; // move draws consumed
      bool absorbed = absorbing_[static_cast<std::size_t>(s)];
      if (!absorbed) {
        // Tenure pieces of the transitions: hoist the sampler while it holds.
        int tau = 0;
        for (std::size_t p = 0; p < tab.samplers.size() && !absorbed; ++p) {
          const RowSampler &rs = tab.samplers[p];
          const int until = p + 1 < tab.trans_starts.size()
                                ? std::min(H, tab.trans_starts[p + 1])
                                : H;
          for (; tau < until; ++tau) {
            const int next = rs.draw(s, uniform(rng));
            if (next == s) continue;
            // A move in period tau + 1: close the stay in s.
            sojourn(tab, g, J, H, s, a, tau + 1, c, cv);
            if (!tab.moves.empty()) on_move(tab, s, next, tau, J, cv, sum);
            if (ev) {
              ev->customer.push_back(id);
              ev->period.push_back(J + tau + 1);
              ev->from.push_back(s);
              ev->to.push_back(next);
            }
            if (first < 0 && is_value_[static_cast<std::size_t>(next)]) first = tau + 1;
            s = next;
            a = tau + 1;
            if (absorbing_[static_cast<std::size_t>(s)]) {
              absorbed = true;
              ++tau;
              break;
            }
          }
        }
        used = tau;
      }
      sojourn(tab, g, J, H, s, a, H + 1, c, cv);
      const int life = absorbed ? a : H;
      steps += H;
      // Every customer consumes the same number of draws, whatever happened.
      if (used < H) rng.discard(static_cast<unsigned long long>(H - used));
      if (keep) {
        const auto i = static_cast<std::size_t>(id);
        keep->lifetime[i] = life;
        keep->outcome[i] = absorbed ? static_cast<std::int16_t>(s) : std::int16_t{-1};
        keep->first_value[i] = first;
        keep->segment[i] = static_cast<std::uint8_t>(g);
        for (std::size_t k = 0; k < K; ++k) keep->customer_value[i * K + k] = cv[k];
      }
      if (cohort) {
        double net = 0.0;
        for (std::size_t k = 0; k < K; ++k) {
          sum.cvalue[k] += cv[k];
          sum.cvalue_sq[k] += cv[k] * cv[k];
          net += j_.net_weights()[k] * cv[k];
        }
        sum.cvalue_sq[K] += net * net;
        sum.life += life;
        sum.life_sq += static_cast<double>(life) * life;
      }
    }
    if (ctl_) ctl_->steps_done.fetch_add(steps, std::memory_order_relaxed);
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

  void reduce(int rep, std::vector<Counts> &counts, const std::vector<BlockSums> &sums,
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
              }
              out.value_by_period[v0 + (c - 1) * K + k] += disc;
              out.value_by_period_nominal[v0 + (c - 1) * K + k] += nominal;
            }
          }
      }
    const std::size_t k0 = static_cast<std::size_t>(rep) * K;
    for (const auto &b : sums) {
      for (std::size_t i = 0; i < T * K; ++i) {
        out.value_by_period[v0 + i] += b.moves[i];
        out.value_by_period_nominal[v0 + i] += b.moves_nominal[i];
      }
      for (std::size_t k = 0; k < K; ++k) out.cohort_value[k0 + k] += b.cvalue[k];
      for (std::size_t k = 0; k <= K; ++k)
        out.cohort_value_sq[static_cast<std::size_t>(rep) * (K + 1) + k] +=
            b.cvalue_sq[k];
      out.cohort_lifetime[static_cast<std::size_t>(rep)] += b.life;
      out.cohort_lifetime_sq[static_cast<std::size_t>(rep)] += b.life_sq;
    }
  }

  static constexpr int kMaxStreams = 64;
  const Journey &j_;
  const SimulationOptions &o_;
  SimulationControl *ctl_;
  int T_, S_, K_, G_ = 1, E_ = 1;
  bool need_end_ = false; // end-of-period counts, for "end" and "half-cycle" values
  std::vector<std::vector<double>> disc_, geo_;
  std::vector<SegmentTables> tables_;
  Vector share_cdf_;
  std::vector<char> is_value_ = std::vector<char>(j_.n_stages(), 0);
  std::vector<char> absorbing_ = std::vector<char>(j_.n_stages(), 0);
};

// Whole customers joining at t = 1..T: the journey's (possibly fractional)
// expected arrivals, rounded up with probability equal to the fraction.
std::vector<std::int64_t> draw_joins(const Journey &j, const SimulationOptions &o,
                                     int rep) {
  std::vector<std::int64_t> joins(static_cast<std::size_t>(o.periods) + 1, 0);
  joins[0] = o.customers;
  Rng rng(stream_seed(o.seed, static_cast<std::uint64_t>(rep), ~0ULL));
  for (int t = 1; t <= o.periods; ++t) {
    const double a = j.arrivals_at(t);
    const double whole = std::floor(a);
    if (whole > 9e15) throw std::invalid_argument("arrivals are too large to simulate");
    const double u = uniform(rng);
    joins[static_cast<std::size_t>(t)] =
        static_cast<std::int64_t>(whole) + (u < a - whole ? 1 : 0);
  }
  return joins;
}

// ---- aggregate: counts per stage moved by multinomial splitting -------------

using Count = std::int64_t;

void split(const Matrix &P, int i, Count n, Rng &rng, std::vector<Count> &to) {
  // Conditional binomials: a multinomial draw of n over row i.
  double left = 1.0;
  const Index cols = P.cols();
  for (Index j = 0; j < cols && n > 0; ++j) {
    const double p = P(i, j);
    if (p <= 0.0) continue;
    Count x;
    if (p >= left) {
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

void run_aggregate(const Journey &j, const SimulationOptions &o, int rep,
                   SimulationResult &out) {
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
  for (int t = 1; t <= T; ++t) {
    const auto c = static_cast<std::size_t>(t - 1); // calendar period - 1
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
            double amount = 0.0, own = 0.0;
            const auto ii = static_cast<Index>(i), jj = static_cast<Index>(jn);
            switch (o.accrual) {
            case Accrual::Start:
              amount = f * v(ii);
              own = amount * d[h];
              break;
            case Accrual::End:
              amount = f * v(jj);
              own = amount * d[h + 2];
              break;
            case Accrual::HalfCycle:
              amount = 0.5 * f * (v(ii) + v(jj));
              own = amount * d[h + 1];
              break;
            }
            if (vs.transition_values.size()) {
              const double m = f * vs.transition_values(ii, jj);
              amount += m;
              own += m * d[h + 2];
            }
            out.value_by_period[v0 + c * K + k] += own;
            out.value_by_period_nominal[v0 + c * K + k] += amount;
            if (p.cohort)
              out.cohort_value[static_cast<std::size_t>(rep) * K + k] += own;
          }
        }
        for (std::size_t jn = 0; jn < S; ++jn) next[jn] += flow_row[jn];
      }
      p.n = std::move(next);
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
  double life = 0.0;
  for (int t = 0; t < T; ++t)
    for (std::size_t s = 0; s < S; ++s)
      if (!j.absorbing()[s])
        life += static_cast<double>(
            out.cohort_occupancy[occ0 + static_cast<std::size_t>(t) * S + s]);
  out.cohort_lifetime[static_cast<std::size_t>(rep)] = life;
}

// ---- capacity: period by period, so that a team's limit binds across customers --

// Customers a team can treat per period couple customers within a period, so
// this run goes period by period over everyone (single-threaded), using exactly
// the random numbers the customer-by-customer engine gives each customer.
class CapacityRun {
public:
  CapacityRun(const Journey &j, const SimulationOptions &o,
              const std::vector<CapacityRule> &rules, SimulationControl *ctl)
      : j_(j), o_(o), rules_(rules), ctl_(ctl), T_(o.periods),
        S_(static_cast<int>(j.n_stages())), K_(static_cast<int>(j.n_streams())),
        disc_(discount_table(j, o.periods)) {
    for (const auto &seg : j.segments()) tables_.push_back(make_tables(seg));
    share_cdf_.resize(static_cast<Index>(j.segments().size()));
    double c = 0.0;
    for (std::size_t g = 0; g < j.segments().size(); ++g)
      share_cdf_(static_cast<Index>(g)) = (c += j.segments()[g].share);
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
    std::vector<double> draws(offset[M]);
    for (std::size_t b = 0; b * kBlock < M; ++b) {
      Rng rng(stream_seed(o_.seed, static_cast<std::uint64_t>(rep), b));
      const std::size_t hi = std::min(M, (b + 1) * static_cast<std::size_t>(kBlock));
      for (std::size_t q = offset[b * kBlock]; q < offset[hi]; ++q)
        draws[q] = uniform(rng);
    }
    std::vector<std::uint8_t> seg(M);
    std::vector<std::int16_t> stage(M);
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
    std::vector<std::size_t> order;
    std::vector<std::vector<std::size_t>> eligible(X);
    std::vector<char> denied(M * X, 0);
    std::size_t next_id = 0;
    for (int t = 0; t <= T; ++t) {
      if (ctl_ && ctl_->cancel.load(std::memory_order_relaxed))
        throw SimulationCancelled();
      // Customers joining now.
      for (; next_id < M && join[next_id] == t; ++next_id) {
        const std::size_t i = next_id;
        const int g = draw_from_cdf(share_cdf_, draws[offset[i]]);
        seg[i] = static_cast<std::uint8_t>(g);
        const int s = draw_from_cdf(tables_[static_cast<std::size_t>(g)].start_cdf,
                                    draws[offset[i] + 1]);
        stage[i] = static_cast<std::int16_t>(s);
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
        const CapacityRule &rule = rules_[x];
        auto &e = eligible[x];
        e.clear();
        const bool in_calendar = t >= rule.calendar_from &&
                                 (rule.calendar_until < 0 || t < rule.calendar_until);
        for (std::size_t i = 0; i < next_id; ++i) {
          const int tau = t - join[i];
          if (absorbed[i] || !rule.touched[seg[i]]) continue;
          if (!in_calendar) {
            denied[i * X + x] = 1; // not on this period: as if untouched
            continue;
          }
          if (tau < rule.from || (rule.until >= 0 && tau >= rule.until)) continue;
          if (rule.rank[static_cast<std::size_t>(stage[i])] < 0) continue;
          e.push_back(i);
        }
        std::stable_sort(e.begin(), e.end(), [&](std::size_t a, std::size_t b) {
          return rule.rank[static_cast<std::size_t>(stage[a])] <
                 rule.rank[static_cast<std::size_t>(stage[b])];
        });
        const auto served =
            std::min<std::size_t>(e.size(), static_cast<std::size_t>(rule.capacity));
        out.capacity_eligible[x0 + static_cast<std::size_t>(t) * X + x] =
            static_cast<std::int64_t>(e.size());
        out.capacity_treated[x0 + static_cast<std::size_t>(t) * X + x] =
            static_cast<std::int64_t>(served);
        for (std::size_t q = 0; q < e.size(); ++q) {
          const std::size_t i = e[q];
          if (q >= served) {
            denied[i * X + x] = 1;
          } else if (!(charged[i] >> x & 1ULL)) {
            charged[i] |= 1ULL << x;
            ++out.capacity_first_treated[x0 + static_cast<std::size_t>(t) * X + x];
          }
        }
      }
      // Move everyone who is still in the journey.
      for (std::size_t i = 0; i < next_id; ++i) {
        if (absorbed[i]) continue;
        const int tau = t - join[i];
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
        accrue(tab, s, nx, tau, join[i], &cv[i * K], out, v0);
        if (nx != s) {
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
      out.outcome.assign(M, -1);
      for (std::size_t i = 0; i < M; ++i)
        if (absorbed[i]) out.outcome[i] = stage[i];
    }
  }

private:
  [[nodiscard]] bool is_value(int s) const {
    for (int v : j_.value_stages())
      if (v == s) return true;
    return false;
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
      double amount = 0.0, own = 0.0;
      switch (o_.accrual) {
      case Accrual::Start:
        amount = v(s, ki);
        own = amount * d[h];
        break;
      case Accrual::End:
        amount = v(nx, ki);
        own = amount * d[h + 2];
        break;
      case Accrual::HalfCycle:
        amount = 0.5 * (v(s, ki) + v(nx, ki));
        own = amount * d[h + 1];
        break;
      }
      if (!tab.moves.empty()) {
        const double m = tab.moves[k](s, nx);
        amount += m;
        own += m * d[h + 2];
      }
      cv[k] += own;
      out.value_by_period[v0 + period * K + k] +=
          own * d[2 * static_cast<std::size_t>(J)];
      out.value_by_period_nominal[v0 + period * K + k] += amount;
    }
  }

  const Journey &j_;
  const SimulationOptions &o_;
  const std::vector<CapacityRule> &rules_;
  SimulationControl *ctl_;
  int T_, S_, K_;
  std::vector<std::vector<double>> disc_;
  std::vector<SegmentTables> tables_;
  Vector share_cdf_;
};

} // namespace

double expected_moves(const Journey &journey, int periods) {
  double moves = 0.0;
  const Analysis a = analyze(journey, periods, Accrual::Start);
  // Expected moves in period k: sum_i x_{k-1,i} (1 - P_ii(k-1)), mixed over segments.
  for (std::size_t g = 0; g < journey.segments().size(); ++g) {
    const auto &seg = journey.segments()[g];
    const Matrix &occ =
        journey.segments().size() > 1 ? a.segments[g].occupancy : a.occupancy;
    for (int k = 1; k <= periods; ++k) {
      const Matrix &P = seg.transitions.at(k - 1);
      for (Index i = 0; i < P.rows(); ++i)
        moves += seg.share * occ(k - 1, i) * (1.0 - P(i, i));
    }
  }
  return moves;
}

SimulationResult simulate(const Journey &journey, const SimulationOptions &o,
                          SimulationControl *control,
                          const std::vector<CapacityRule> &capacity) {
  check_options(journey, o);
  check_capacity(journey, o, capacity);
  const int T = o.periods, R = o.replications;
  const auto S = static_cast<std::size_t>(journey.n_stages());
  const auto K = static_cast<std::size_t>(journey.n_streams());
  SimulationResult out;
  out.replications = R;
  out.periods = T;
  out.stages = static_cast<int>(S);
  out.streams = static_cast<int>(K);
  const auto r = static_cast<std::size_t>(R), t1 = static_cast<std::size_t>(T) + 1;
  out.occupancy.assign(r * t1 * S, 0);
  out.cohort_occupancy.assign(r * t1 * S, 0);
  out.value_by_period.assign(r * (t1 - 1) * K, 0.0);
  out.value_by_period_nominal.assign(r * (t1 - 1) * K, 0.0);
  out.cohort_value.assign(r * K, 0.0);
  out.cohort_value_sq.assign(r * (K + 1), 0.0);
  out.cohort_lifetime.assign(r, 0.0);
  out.cohort_lifetime_sq.assign(r, 0.0);
  out.arrivals.assign(r * (t1 - 1), 0);
  const std::size_t X = capacity.size();
  out.capacity_eligible.assign(r * (t1 - 1) * X, 0);
  out.capacity_treated.assign(r * (t1 - 1) * X, 0);
  out.capacity_first_treated.assign(r * (t1 - 1) * X, 0);
  int threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);

  std::vector<std::vector<std::int64_t>> joins;
  for (int rep = 0; rep < R; ++rep) {
    joins.push_back(draw_joins(journey, o, rep));
    for (int t = 1; t <= T; ++t)
      out.arrivals[static_cast<std::size_t>(rep) * (t1 - 1) +
                   static_cast<std::size_t>(t - 1)] =
          joins.back()[static_cast<std::size_t>(t)];
  }

  if (o.method == Method::Aggregate) {
    // Replications are independent streams: spread them over threads.
    std::atomic<int> next{0};
    auto work = [&]() {
      for (int rep; (rep = next.fetch_add(1)) < R;) {
        if (control && control->cancel.load()) return;
        run_aggregate(journey, o, rep, out);
        if (control) control->steps_done.fetch_add(static_cast<std::int64_t>(T));
      }
    };
    const int n = std::min(threads, R);
    if (n <= 1) {
      work();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < n; ++t) pool.emplace_back(work);
      for (auto &th : pool) th.join();
    }
    if (control && control->cancel.load()) throw SimulationCancelled();
    return out;
  }

  if (!capacity.empty()) {
    CapacityRun run(journey, o, capacity, control);
    for (int rep = 0; rep < R; ++rep)
      run.run(rep, joins[static_cast<std::size_t>(rep)], out);
    return out;
  }

  IndividualRun run(journey, o, control);
  for (int rep = 0; rep < R; ++rep)
    run.run(rep, joins[static_cast<std::size_t>(rep)], out, threads);
  return out;
}

} // namespace journeysim
