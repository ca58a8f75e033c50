#include "journeysim/model.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace journeysim {
namespace {

std::string fmt(double x) {
  std::ostringstream os;
  os.precision(12);
  os << x;
  return os.str();
}

// Where a problem is: the part of the spec, and the segment and value stream
// when it is theirs.
struct Part {
  std::string part;
  std::string segment;
  std::string stream;
};

[[noreturn]] void fail(const Part &at, const std::string &msg) {
  throw JourneyError(at.part, at.segment, at.stream, msg);
}
[[noreturn]] void fail(const char *part, const std::string &msg) {
  throw JourneyError(part, "", "", msg);
}

// "segment 'SMB', " when there are several segments, "" otherwise.
std::string where(const Segment &seg, std::size_t n_segments) {
  return n_segments > 1 ? "segment '" + seg.name + "', " : std::string();
}
// The segment's name when there are several, "" otherwise.
std::string which(const Segment &seg, std::size_t n_segments) {
  return n_segments > 1 ? seg.name : std::string();
}

template <class T>
void check_starts(const Piecewise<T> &pw, const std::string &what, const Part &at) {
  if (pw.starts.empty() || pw.starts.size() != pw.pieces.size())
    fail(at, what + ": needs one tenure start per piece and at least one piece");
  if (pw.starts[0] != 0)
    fail(at, what + ": the first tenure piece must start at tenure 0, not " +
                 std::to_string(pw.starts[0]));
  for (std::size_t p = 1; p < pw.starts.size(); ++p)
    if (pw.starts[p] <= pw.starts[p - 1])
      fail(at, what + ": tenure pieces must be in increasing order, got " +
                   std::to_string(pw.starts[p - 1]) + " then " +
                   std::to_string(pw.starts[p]));
  if (pw.starts.back() > kMaxTenureStart)
    fail(at, what + ": a tenure piece starts at " + std::to_string(pw.starts.back()) +
                 ", beyond " + std::to_string(kMaxTenureStart) + " periods");
}

} // namespace

Journey::Journey(JourneySpec spec) : spec_(std::move(spec)) { validate(); }

void Journey::validate() {
  auto &s = spec_;
  const std::size_t n = s.stages.size();
  if (n == 0) fail("stages", "a journey needs at least one stage");
  {
    std::unordered_set<std::string> seen;
    for (const auto &name : s.stages) {
      if (name.empty()) fail("stages", "stage names must not be empty");
      if (!seen.insert(name).second)
        fail("stages", "duplicate stage name '" + name + "'");
    }
  }
  if (s.segments.empty()) fail("segments", "a journey needs at least one segment");
  if (!(s.tolerance >= 0.0) || !std::isfinite(s.tolerance))
    fail("tolerance",
         "tolerance must be a finite number >= 0, got " + fmt(s.tolerance));
  if (s.tolerance > kMaxTolerance)
    fail("tolerance", "tolerance " + fmt(s.tolerance) +
                          " is too large: sums of probabilities " +
                          "must be 1 within at most " + fmt(kMaxTolerance));
  const double tol = s.tolerance;
  const auto &stage = s.stages;

  // Segment shares.
  double share_sum = 0.0;
  {
    std::unordered_set<std::string> seen;
    for (const auto &seg : s.segments) {
      if (!seen.insert(seg.name).second)
        fail("segments", "duplicate segment name '" + seg.name + "'");
      if (!std::isfinite(seg.share) || seg.share < 0.0)
        fail(Part{"segments", seg.name, ""},
             "segment '" + seg.name + "': share must be finite and >= 0, got " +
                 fmt(seg.share));
      share_sum += seg.share;
    }
  }
  if (!(share_sum > 0.0)) fail("segments", "segment shares sum to 0");
  if (std::abs(share_sum - 1.0) > tol) {
    // An infinite sum (finite shares that overflow) would rescale them all to 0.
    if (!s.normalize || !std::isfinite(share_sum))
      fail("segments", "segment shares sum to " + fmt(share_sum) + ", not 1" +
                           (s.normalize ? "" : " (pass normalize=True to rescale)"));
    for (auto &seg : s.segments) seg.share /= share_sum;
  }

  const std::size_t n_streams = s.segments[0].streams.size();
  {
    std::unordered_set<std::string> seen;
    for (const auto &vs : s.segments[0].streams)
      if (!seen.insert(vs.name).second)
        fail("values", "duplicate value stream name '" + vs.name + "'");
  }
  for (auto &seg : s.segments) {
    const std::string at = where(seg, s.segments.size());
    const std::string segment = which(seg, s.segments.size());
    const Part in_transitions{"transitions", segment, ""};
    const Part in_start{"start", segment, ""};
    check_starts(seg.transitions, at + "transitions", in_transitions);
    for (std::size_t p = 0; p < seg.transitions.pieces.size(); ++p) {
      Matrix &P = seg.transitions.pieces[p];
      const std::string piece =
          seg.transitions.pieces.size() > 1
              ? " (tenure piece from " + std::to_string(seg.transitions.starts[p]) + ")"
              : std::string();
      if (static_cast<std::size_t>(P.rows()) != n ||
          static_cast<std::size_t>(P.cols()) != n)
        fail(in_transitions, at + "transition matrix" + piece + " has shape (" +
                                 std::to_string(P.rows()) + ", " +
                                 std::to_string(P.cols()) + "), expected (" +
                                 std::to_string(n) + ", " + std::to_string(n) +
                                 ") for " + std::to_string(n) + " stages");
      for (std::size_t i = 0; i < n; ++i) {
        double row = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
          const double v =
              P(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
          if (!std::isfinite(v))
            fail(in_transitions, at + "transition '" + stage[i] + "' -> '" + stage[j] +
                                     "'" + piece + " is not finite (" + fmt(v) + ")");
          if (v < 0.0)
            fail(in_transitions, at + "transition '" + stage[i] + "' -> '" + stage[j] +
                                     "'" + piece + " is negative (" + fmt(v) + ")");
          if (v > 1.0 + tol && !s.normalize)
            fail(in_transitions, at + "transition '" + stage[i] + "' -> '" + stage[j] +
                                     "'" + piece + " is greater than 1 (" + fmt(v) +
                                     ")");
          row += v;
        }
        if (std::abs(row - 1.0) > tol) {
          if (!s.normalize || !(row > 0.0) || !std::isfinite(row))
            fail(in_transitions,
                 at + "row '" + stage[i] + "'" + piece + " sums to " + fmt(row) +
                     ", not 1" +
                     (s.normalize ? "" : " (pass normalize=True to rescale)"));
          P.row(static_cast<Eigen::Index>(i)) /= row;
        }
      }
    }

    if (static_cast<std::size_t>(seg.start.size()) != n)
      fail(in_start, at + "start distribution has " + std::to_string(seg.start.size()) +
                         " entries, expected one per stage (" + std::to_string(n) +
                         ")");
    double start_sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = seg.start(static_cast<Eigen::Index>(i));
      if (!std::isfinite(v) || v < 0.0)
        fail(in_start, at + "start share of stage '" + stage[i] +
                           "' must be finite and >= 0, got " + fmt(v));
      start_sum += v;
    }
    if (std::abs(start_sum - 1.0) > tol) {
      if (!s.normalize || !(start_sum > 0.0) || !std::isfinite(start_sum))
        fail(in_start, at + "start distribution sums to " + fmt(start_sum) + ", not 1" +
                           (s.normalize ? "" : " (pass normalize=True to rescale)"));
      seg.start /= start_sum;
    }

    if (seg.streams.size() != n_streams)
      fail(Part{"values", segment, ""},
           at + "has " + std::to_string(seg.streams.size()) +
               " value streams, expected " + std::to_string(n_streams));
    for (std::size_t k = 0; k < n_streams; ++k) {
      ValueStream &vs = seg.streams[k];
      if (vs.name != s.segments[0].streams[k].name)
        fail(Part{"values", segment, ""}, at + "value stream " + std::to_string(k) +
                                              " is '" + vs.name + "', expected '" +
                                              s.segments[0].streams[k].name + "'");
      const std::string sw = at + "value stream '" + vs.name + "'";
      const Part in_values{"values", segment, vs.name};
      const Part in_rate{"discount_rate", segment, vs.name};
      const Part in_moves{"transition_values", segment, vs.name};
      if (!std::isfinite(vs.discount_rate) || vs.discount_rate <= -1.0)
        fail(in_rate, sw + ": discount rate must be finite and > -1, got " +
                          fmt(vs.discount_rate));
      if (vs.discount_rate != s.segments[0].streams[k].discount_rate)
        fail(in_rate, sw + ": discount rate " + fmt(vs.discount_rate) +
                          " differs from the first segment's; a stream has one rate");
      check_starts(vs.stage_values, sw, in_values);
      for (std::size_t p = 0; p < vs.stage_values.pieces.size(); ++p) {
        const Vector &v = vs.stage_values.pieces[p];
        if (static_cast<std::size_t>(v.size()) != n)
          fail(in_values, sw + " has " + std::to_string(v.size()) +
                              " stage values, expected " + std::to_string(n));
        for (std::size_t i = 0; i < n; ++i)
          if (!std::isfinite(v(static_cast<Eigen::Index>(i))))
            fail(in_values, sw + ": value in stage '" + stage[i] + "' is not finite (" +
                                fmt(v(static_cast<Eigen::Index>(i))) + ")");
      }
      if (vs.transition_values.size() != 0) {
        const Matrix &T = vs.transition_values;
        if (static_cast<std::size_t>(T.rows()) != n ||
            static_cast<std::size_t>(T.cols()) != n)
          fail(in_moves, sw + ": transition values have shape (" +
                             std::to_string(T.rows()) + ", " +
                             std::to_string(T.cols()) + "), expected (" +
                             std::to_string(n) + ", " + std::to_string(n) + ")");
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < n; ++j)
            if (!std::isfinite(
                    T(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j))))
              fail(in_moves, sw + ": value on move '" + stage[i] + "' -> '" + stage[j] +
                                 "' is not finite");
      }
    }
  }

  // Absorbing stages: declared, or detected. One definition everywhere: a stage
  // is absorbing when it has no exit (every off-diagonal entry of its row is 0
  // in every piece and segment). Not "stay == 1.0": a row with exits below
  // about 1e-16 has a stay that rounds to 1.0, yet customers do leave it, and
  // the solves (which build 1 - P_ii from the exits) treat it as transient.
  absorbing_.assign(n, false);
  auto stays_put = [&](std::size_t i) {
    const auto ii = static_cast<Eigen::Index>(i);
    for (const auto &seg : s.segments)
      for (const auto &P : seg.transitions.pieces)
        for (Eigen::Index j = 0; j < P.cols(); ++j)
          if (j != ii && P(ii, j) != 0.0) return false;
    return true;
  };
  if (s.absorbing.empty() && s.detect_absorbing) {
    for (std::size_t i = 0; i < n; ++i) absorbing_[i] = stays_put(i);
  } else {
    for (int a : s.absorbing) {
      if (a < 0 || static_cast<std::size_t>(a) >= n)
        fail("absorbing",
             "absorbing stage index " + std::to_string(a) + " is out of range");
      const auto ai = static_cast<std::size_t>(a);
      if (absorbing_[ai])
        fail("absorbing", "absorbing stage '" + stage[ai] + "' is listed twice");
      absorbing_[ai] = true;
      for (const auto &seg : s.segments)
        for (std::size_t p = 0; p < seg.transitions.pieces.size(); ++p) {
          const Matrix &P = seg.transitions.pieces[p];
          for (std::size_t j = 0; j < n; ++j)
            if (j != ai && P(a, static_cast<Eigen::Index>(j)) > 0.0)
              fail(Part{"absorbing", which(seg, s.segments.size()), ""},
                   where(seg, s.segments.size()) + "absorbing stage '" + stage[ai] +
                       "' has an exit to '" + stage[j] + "' (" +
                       fmt(P(a, static_cast<Eigen::Index>(j))) +
                       "); absorbing stages stay put");
        }
    }
  }

  for (int v : s.value_stages)
    if (v < 0 || static_cast<std::size_t>(v) >= n)
      fail("value_stages",
           "value stage index " + std::to_string(v) + " is out of range");

  if (s.net_weights.empty()) s.net_weights.assign(n_streams, 1.0);
  if (s.net_weights.size() != n_streams)
    fail("net", "net value needs one weight per value stream: got " +
                    std::to_string(s.net_weights.size()) + " for " +
                    std::to_string(n_streams));
  for (std::size_t k = 0; k < n_streams; ++k)
    if (!std::isfinite(s.net_weights[k]))
      fail("net", "net weight of stream '" + s.segments[0].streams[k].name +
                      "' is not finite");

  if (!std::isfinite(s.cohort_size) || s.cohort_size < 0.0)
    fail("cohort_size",
         "cohort size must be finite and >= 0, got " + fmt(s.cohort_size));
  if (s.arrivals_constant && s.arrivals.size() != 1)
    fail("arrivals", "constant arrivals need exactly one number");
  for (std::size_t t = 0; t < s.arrivals.size(); ++t)
    if (!std::isfinite(s.arrivals[t]) || s.arrivals[t] < 0.0)
      fail("arrivals", "arrivals at period " + std::to_string(t + 1) +
                           " must be finite and >= 0, got " + fmt(s.arrivals[t]));
}

double Journey::arrivals_at(long t) const {
  const auto &a = spec_.arrivals;
  if (t < 1 || a.empty()) return 0.0;
  if (spec_.arrivals_constant) return a[0];
  const auto idx = static_cast<std::size_t>(t - 1);
  return idx < a.size() ? a[idx] : 0.0;
}

bool Journey::has_arrivals() const {
  for (double v : spec_.arrivals)
    if (v > 0.0) return true;
  return false;
}

int Journey::stationary_from() const {
  int last = 0;
  for (const auto &seg : spec_.segments) {
    last = std::max(last, seg.transitions.last_start());
    for (const auto &vs : seg.streams)
      last = std::max(last, vs.stage_values.last_start());
  }
  return last;
}

std::vector<std::string> Journey::stream_names() const {
  std::vector<std::string> names;
  for (const auto &vs : spec_.segments[0].streams) names.push_back(vs.name);
  return names;
}

} // namespace journeysim
