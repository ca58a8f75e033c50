// libFuzzer target: a journey built from raw numbers (stage count, matrices by
// tenure piece, values, segments, discount rates, start vectors, arrivals, with
// NaN, infinities, negatives and huge values), then, when the constructor
// accepts it, analyze(), sensitivities(), first_visits() and a tiny simulate().
//
// The contract: the core either throws std::invalid_argument / std::out_of_range
// (its documented errors) or returns results that are consistent; anything else
// (a crash, a sanitizer report, a hang, an assertion) is a bug.
#include "input.hpp"

#include "journeysim/exact.hpp"
#include "journeysim/model.hpp"
#include "journeysim/simulate.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace journeysim;
using journeysim::fuzz::Input;

namespace {

[[noreturn]] void broken(const char *what) {
  std::fprintf(stderr, "contract violated: %s\n", what);
  std::abort();
}
#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) broken(#cond);                                                        \
  } while (0)

// Tenure starts: usually 0 then increasing by a little, sometimes anything.
std::vector<int> starts(Input &in, int pieces) {
  std::vector<int> s;
  int t = 0;
  for (int p = 0; p < pieces; ++p) {
    const std::uint8_t mode = in.byte();
    if (mode % 16 == 15)
      t = in.raw<int>(); // out of order, negative or huge
    else if (p > 0)      // (saturating: t may be INT_MAX after a raw start)
      t = static_cast<int>(std::min<long long>(INT_MAX, t + 1LL + mode % 7));
    s.push_back(t);
  }
  return s;
}

// A row: stochastic weights, an absorbing row, or raw numbers.
void row(Input &in, Matrix &P, Eigen::Index i) {
  const auto n = P.cols();
  const std::uint8_t mode = in.byte();
  switch (mode % 8) {
  case 0: { // stays put
    P.row(i).setZero();
    P(i, i) = 1.0;
    break;
  }
  case 6: // raw numbers
    for (Eigen::Index j = 0; j < n; ++j) P(i, j) = in.number();
    break;
  case 7: { // weights, then one entry replaced by anything
    double sum = 0.0;
    for (Eigen::Index j = 0; j < n; ++j) sum += (P(i, j) = in.byte());
    if (sum > 0.0) P.row(i) /= sum;
    P(i, in.small(0, static_cast<int>(n) - 1)) = in.number();
    break;
  }
  default: { // stochastic weights from bytes (an all-zero row stays put)
    double sum = 0.0;
    for (Eigen::Index j = 0; j < n; ++j) sum += (P(i, j) = in.byte() % 16);
    if (sum > 0.0)
      P.row(i) /= sum;
    else
      P(i, i) = 1.0;
  }
  }
}

Matrix matrix(Input &in, int n) {
  // Usually square n x n; rarely the wrong shape.
  int r = n, c = n;
  if (in.byte() % 32 == 31) {
    r = in.small(0, n + 1);
    c = in.small(0, n + 1);
  }
  Matrix P = Matrix::Zero(r, c);
  if (r == n && c == n)
    for (Eigen::Index i = 0; i < n; ++i) row(in, P, i);
  else
    for (Eigen::Index i = 0; i < r; ++i)
      for (Eigen::Index j = 0; j < c; ++j) P(i, j) = in.number();
  return P;
}

Vector distribution(Input &in, int n) {
  const std::uint8_t mode = in.byte();
  const int len = mode % 32 == 31 ? in.small(0, n + 1) : n;
  Vector v = Vector::Zero(len);
  if (mode % 4 == 3) {
    for (Eigen::Index i = 0; i < len; ++i) v(i) = in.number();
  } else if (len > 0) {
    double sum = 0.0;
    for (Eigen::Index i = 0; i < len; ++i) sum += (v(i) = in.byte() % 8);
    if (sum > 0.0)
      v /= sum;
    else
      v(0) = 1.0;
  }
  return v;
}

double discount_rate(Input &in) {
  constexpr double kRates[] = {0.0, 0.01, 0.1, -0.5, 1.0, -0.999999};
  const std::uint8_t mode = in.byte();
  return mode % 8 < 6 ? kRates[mode % 8] : in.amount();
}

JourneySpec spec_from(Input &in) {
  JourneySpec spec;
  const int n = in.small(1, 6);
  const int G = in.small(1, 3);
  const int K = in.small(0, 3);
  const std::uint8_t flags = in.byte();
  spec.normalize = flags & 1u;
  spec.detect_absorbing = !(flags & 2u);
  spec.arrivals_constant = flags & 4u;
  const bool names_bad = (flags & 0xF0u) == 0xF0u;
  for (int i = 0; i < n; ++i)
    spec.stages.push_back(names_bad && i == n - 1 ? (in.flag() ? std::string() : "s0")
                                                  : "s" + std::to_string(i));
  {
    constexpr double kTolerances[] = {1e-9, 0.0, 1e-12, 1e-6};
    const std::uint8_t t = in.byte();
    spec.tolerance = t % 16 == 15 ? in.number() : kTolerances[t % 4];
  }
  std::vector<double> rates;
  for (int k = 0; k < K; ++k) rates.push_back(discount_rate(in));
  for (int g = 0; g < G; ++g) {
    Segment seg;
    seg.name = "g" + std::to_string(g);
    seg.share = G == 1 && in.byte() % 8 != 7 ? 1.0 : in.number();
    const int pieces = in.small(1, 3);
    seg.transitions.starts = starts(in, pieces);
    for (int p = 0; p < pieces; ++p) seg.transitions.pieces.push_back(matrix(in, n));
    if (in.byte() % 32 == 31) seg.transitions.pieces.pop_back(); // count mismatch
    for (int k = 0; k < K; ++k) {
      ValueStream vs;
      vs.name = "k" + std::to_string(k);
      vs.discount_rate = in.byte() % 32 == 31 ? discount_rate(in) : rates[k];
      const int vp = in.small(1, 2);
      vs.stage_values.starts = starts(in, vp);
      for (int p = 0; p < vp; ++p) {
        const int len = in.byte() % 32 == 31 ? in.small(0, n + 1) : n;
        Vector v(len);
        for (int i = 0; i < len; ++i) v(i) = in.amount();
        vs.stage_values.pieces.push_back(v);
      }
      if (in.byte() % 4 == 3) {
        vs.transition_values = Matrix::Zero(n, n);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j)
            if (in.flag()) vs.transition_values(i, j) = in.amount();
      }
      seg.streams.push_back(std::move(vs));
    }
    seg.start = distribution(in, n);
    spec.segments.push_back(std::move(seg));
  }
  if (!spec.detect_absorbing || in.byte() % 4 == 3) {
    const int m = in.small(0, 3);
    for (int a = 0; a < m; ++a) spec.absorbing.push_back(in.small(-1, n));
  }
  for (int v = in.small(0, 2); v > 0; --v) spec.value_stages.push_back(in.small(-1, n));
  if (in.byte() % 4 == 3) {
    const int m = in.byte() % 8 == 7 ? in.small(0, K + 1) : K;
    for (int k = 0; k < m; ++k) spec.net_weights.push_back(in.amount());
  }
  spec.cohort_size = in.byte() % 4 == 3 ? in.amount() : 1000.0;
  for (int a = in.small(0, 3); a > 0; --a) spec.arrivals.push_back(in.amount());
  return spec;
}

void describe(const Journey &j) {
  std::fprintf(stderr,
               "journey: %zu stages, %zu segments, %zu streams, tolerance %g%s\n",
               j.n_stages(), j.segments().size(), j.n_streams(), j.spec().tolerance,
               j.spec().normalize ? ", normalize" : "");
  for (const auto &seg : j.segments()) {
    std::fprintf(stderr, "segment %s share %.17g\n", seg.name.c_str(), seg.share);
    for (std::size_t p = 0; p < seg.transitions.pieces.size(); ++p) {
      std::fprintf(stderr, "  from tenure %d:\n", seg.transitions.starts[p]);
      const Matrix &P = seg.transitions.pieces[p];
      for (Eigen::Index i = 0; i < P.rows(); ++i) {
        std::fprintf(stderr, "   ");
        for (Eigen::Index k = 0; k < P.cols(); ++k)
          std::fprintf(stderr, " %.17g", P(i, k));
        std::fprintf(stderr, "\n");
      }
    }
    std::fprintf(stderr, "  start");
    for (Eigen::Index i = 0; i < seg.start.size(); ++i)
      std::fprintf(stderr, " %.17g", seg.start(i));
    std::fprintf(stderr, "\n");
    for (const auto &vs : seg.streams) {
      std::fprintf(stderr, "  stream %s rate %.17g:", vs.name.c_str(),
                   vs.discount_rate);
      for (std::size_t p = 0; p < vs.stage_values.pieces.size(); ++p) {
        std::fprintf(stderr, " [from %d]", vs.stage_values.starts[p]);
        for (Eigen::Index i = 0; i < vs.stage_values.pieces[p].size(); ++i)
          std::fprintf(stderr, " %.17g", vs.stage_values.pieces[p](i));
      }
      std::fprintf(stderr, "%s\n",
                   vs.transition_values.size() ? " (+ move values)" : "");
    }
  }
  std::fprintf(stderr, "absorbing:");
  for (bool a : j.absorbing()) std::fprintf(stderr, " %d", a ? 1 : 0);
  std::fprintf(stderr, "\ncohort %.17g, %zu arrivals entries%s\n", j.cohort_size(),
               j.spec().arrivals.size(),
               j.spec().arrivals_constant ? " (constant)" : "");
}

bool finite(const Matrix &M) { return M.allFinite(); }

// Invariants of analyze() that hold whatever the values: occupancy is a
// distribution at every period, retention is in [0, 1] and falls.
void check(const Journey &j, const Analysis &a, int T) {
  FUZZ_CHECK(a.occupancy.rows() == T + 1);
  FUZZ_CHECK(a.occupancy.cols() == static_cast<Eigen::Index>(j.n_stages()));
  FUZZ_CHECK(finite(a.occupancy));
  const double slack = 1e-6 + 4.0 * j.spec().tolerance * (T + 1);
  for (Eigen::Index t = 0; t <= T; ++t) {
    FUZZ_CHECK(std::abs(a.occupancy.row(t).sum() - 1.0) <= slack);
    FUZZ_CHECK(a.occupancy.row(t).minCoeff() >= -slack);
    FUZZ_CHECK(a.retention(t) >= -slack && a.retention(t) <= 1.0 + slack);
  }
  FUZZ_CHECK(a.value_by_period.rows() == T);
  FUZZ_CHECK(a.value_by_period.cols() == static_cast<Eigen::Index>(j.n_streams()) + 1);
  FUZZ_CHECK(a.absorption.size() == static_cast<Eigen::Index>(j.n_stages()));
  FUZZ_CHECK(a.lifetime_horizon >= -slack && a.lifetime_horizon <= T + slack);
}

void check(const Journey &j, const SimulationOptions &o, const SimulationResult &r) {
  const auto S = j.n_stages();
  const auto T = static_cast<std::size_t>(o.periods);
  FUZZ_CHECK(r.occupancy.size() ==
             static_cast<std::size_t>(o.replications) * (T + 1) * S);
  for (int rep = 0; rep < o.replications; ++rep) {
    std::int64_t alive = o.customers;
    for (std::size_t t = 0; t <= T; ++t) {
      if (t > 0) alive += r.arrivals[static_cast<std::size_t>(rep) * T + t - 1];
      std::int64_t sum = 0, cohort = 0;
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t at = (static_cast<std::size_t>(rep) * (T + 1) + t) * S + s;
        FUZZ_CHECK(r.occupancy[at] >= 0 && r.cohort_occupancy[at] >= 0);
        sum += r.occupancy[at];
        cohort += r.cohort_occupancy[at];
      }
      FUZZ_CHECK(sum == alive);
      FUZZ_CHECK(cohort == o.customers);
    }
  }
  for (std::size_t i = 0; i < r.outcome.size(); ++i) {
    FUZZ_CHECK(r.outcome[i] == -1 ||
               j.absorbing()[static_cast<std::size_t>(r.outcome[i])]);
    FUZZ_CHECK(r.lifetime[i] >= 0 && r.lifetime[i] <= o.periods);
    FUZZ_CHECK(r.segment[i] < j.segments().size());
  }
}

void run(Input &in) {
  // FUZZ_TRACE=1 tells what an input decodes to (to turn a crash into a test).
  static const bool trace = std::getenv("FUZZ_TRACE") != nullptr;
  std::optional<Journey> journey;
  try {
    journey.emplace(spec_from(in));
  } catch (const std::invalid_argument &e) {
    if (trace) std::fprintf(stderr, "rejected: %s\n", e.what());
    return;
  }
  if (trace) describe(*journey);
  const Journey &j = *journey;
  // The exact analytics step through every period up to the last tenure piece
  // (at most kMaxTenureStart): linear cost by design, too slow to fuzz.
  if (j.stationary_from() > 2000) return;
  const auto n = static_cast<int>(j.n_stages());
  const int T = in.small(0, 40);
  const auto accrual = static_cast<Accrual>(in.byte() % 3);
  if (trace)
    std::fprintf(stderr, "analyze(periods=%d, accrual=%d)\n", T,
                 static_cast<int>(accrual));
  try {
    // Refused (invalid_argument) when a result over the horizon would overflow.
    const Analysis a = analyze(j, T, accrual);
    if (j.spec().tolerance <= 1e-6) check(j, a, T);
  } catch (const std::invalid_argument &e) {
    if (trace) std::fprintf(stderr, "analyze refused: %s\n", e.what());
  }

  // Derivatives, with destinations that may be out of range.
  {
    std::vector<int> dest;
    for (int i = 0; i < n; ++i)
      dest.push_back(in.byte() % 16 == 15 ? in.small(-1, n) : i);
    const auto metric = static_cast<Sensitivity>(in.byte() % 3);
    const std::optional<int> periods =
        in.flag() ? std::nullopt : std::optional<int>(in.small(0, 20));
    try {
      const Matrix D = sensitivities(j, periods, accrual, metric, dest);
      FUZZ_CHECK(D.rows() == n && D.cols() == n);
    } catch (const std::invalid_argument &) {
    }
  }
  {
    const auto g = static_cast<std::size_t>(in.small(0, 3));
    std::vector<int> stages{in.small(-1, n)};
    const int from = in.small(-1, 10), until = in.small(-1, 20);
    try {
      const Vector f = first_visits(j, g, stages, from, until);
      FUZZ_CHECK(f.size() == until - from);
    } catch (const std::invalid_argument &) {
    } catch (const std::out_of_range &) {
    }
  }

  // A tiny simulation; populations too large to simulate quickly are skipped
  // (their cost, not their correctness, is the user's concern).
  SimulationOptions o;
  o.customers = in.small(0, 300);
  o.periods = in.small(0, 12);
  o.seed = in.raw<std::uint16_t>();
  o.replications = in.small(0, 2);
  o.threads = in.small(1, 2);
  o.accrual = accrual;
  o.method = in.flag() ? Method::Aggregate : Method::Individual;
  o.per_customer = in.flag();
  o.record_events = in.flag();
  double joining = 0.0;
  for (int t = 1; t <= o.periods; ++t) joining += j.arrivals_at(t);
  if (!(joining <= 2000.0)) return;
  std::vector<CapacityRule> rules;
  for (int x = in.small(0, 2); x > 0; --x) {
    CapacityRule r;
    r.capacity = in.small(-1, 50);
    const bool bad = in.byte() % 32 == 31;
    // -1 decodes to "none": not a stage of the rule, an open-ended window.
    auto maybe = [](int v) { return v < 0 ? std::nullopt : std::optional<int>(v); };
    for (int i = 0; i < n + (bad ? 1 : 0); ++i)
      r.rank.push_back(maybe(in.small(-1, 3)));
    r.window.from = in.small(0, 5);
    r.window.until = maybe(in.small(-1, 10));
    r.calendar.from = in.small(0, 5);
    r.calendar.until = maybe(in.small(-1, 10));
    for (std::size_t g = 0; g < j.segments().size(); ++g) {
      r.touched.push_back(in.flag());
      r.fallback.push_back(bad ? in.small(-1, 3) : in.small(0, static_cast<int>(g)));
    }
    rules.push_back(std::move(r));
  }
  if (trace)
    std::fprintf(stderr,
                 "simulate(customers=%lld, periods=%d, seed=%llu, replications=%d, "
                 "threads=%d, method=%d, %zu capacity rules)\n",
                 static_cast<long long>(o.customers), o.periods,
                 static_cast<unsigned long long>(o.seed), o.replications, o.threads,
                 static_cast<int>(o.method), rules.size());
  try {
    const SimulationResult r = simulate(j, o, nullptr, rules);
    check(j, o, r);
  } catch (const std::invalid_argument &) {
  }
  try {
    const double m = expected_moves(j, o.periods);
    (void)m;
  } catch (const std::invalid_argument &) {
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  Input in(data, size);
  run(in);
  return 0;
}
