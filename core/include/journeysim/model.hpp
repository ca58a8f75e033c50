// The journey model: stages, transition matrices by tenure, value streams,
// segments and arrivals. Validated once, on construction; every other part of
// the core may then rely on its invariants.
#pragma once

#include <Eigen/Dense>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace journeysim {

// Row-major so that a C-ordered numpy array maps onto it without a copy.
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;

// When the per-stage value of a period accrues (see DESIGN.md, "Numbers and
// conventions"): on the occupancy at the start of the period, at its end, or on
// the average of both. The average is discounted to the middle of the period
// (HalfCycle, d^(k-1/2)) or, as heemod's method = "life-table" with its
// discount(x, r) does, to the start of the period (LifeTable, d^(k-1)).
enum class Accrual { Start, End, HalfCycle, LifeTable };

// The latest tenure at which a piece may start (the Python layer's limit too):
// the exact analytics step period by period up to the last piece.
constexpr int kMaxTenureStart = 1'000'000;

// The largest tolerance on sums of probabilities: the engines rely on rows,
// starts and shares that sum to 1 up to rounding.
constexpr double kMaxTolerance = 1e-6;

// Piecewise-constant in tenure: piece p applies from tenure starts[p] on, up to
// the next start. starts[0] is always 0, and no start is beyond kMaxTenureStart.
template <class T> struct Piecewise {
  std::vector<int> starts;
  std::vector<T> pieces;

  // The index of the piece in force at `tenure` (completed periods).
  [[nodiscard]] std::size_t index_at(long tenure) const {
    std::size_t p = 0;
    while (p + 1 < starts.size() && starts[p + 1] <= tenure) ++p;
    return p;
  }
  [[nodiscard]] const T &at(long tenure) const { return pieces[index_at(tenure)]; }
  // The tenure from which nothing changes any more.
  [[nodiscard]] int last_start() const { return starts.empty() ? 0 : starts.back(); }
};

// A named per-customer-per-period amount by stage, optionally by tenure, plus
// amounts incurred on moves between stages.
struct ValueStream {
  std::string name;
  double discount_rate = 0.0;     // per period, > -1
  Piecewise<Vector> stage_values; // each piece has one entry per stage
  Matrix transition_values;       // stages x stages, or empty for none
};

// A sub-population with its own transitions, values and starting distribution.
struct Segment {
  std::string name;
  double share = 1.0;
  Piecewise<Matrix> transitions;    // each piece is stages x stages
  std::vector<ValueStream> streams; // same names, in the same order, in every segment
  Vector start;                     // distribution over stages at t = 0
};

// A journey spec that fails validation: the message, and the part of the spec it
// is about, so that a caller can point at it (a model file's key path) without
// reading the message. `part` is one of "stages", "segments", "tolerance",
// "transitions", "start", "values", "transition_values", "discount_rate",
// "absorbing", "value_stages", "net", "cohort_size", "arrivals"; `segment` names
// the segment when the journey has several and the problem is one segment's;
// `stream` names the value stream for "values", "transition_values" and
// "discount_rate".
struct JourneyError : std::invalid_argument {
  JourneyError(std::string part_, std::string segment_, std::string stream_,
               const std::string &message)
      : std::invalid_argument(message), part(std::move(part_)),
        segment(std::move(segment_)), stream(std::move(stream_)) {}
  std::string part;
  std::string segment;
  std::string stream;
};

// Everything needed to build a Journey; plain data, checked by Journey's constructor.
struct JourneySpec {
  std::vector<std::string> stages;
  std::vector<Segment> segments;
  // Absorbing stages by index. Empty: detected as the stages with no exit (no
  // positive off-diagonal entry) in any tenure piece of any segment.
  std::vector<int> absorbing;
  bool detect_absorbing = true;    // with no stage listed: detect them, or have none
  std::vector<int> value_stages;   // targets of "time to value"; may be empty
  std::vector<double> net_weights; // weight of each stream in net value (CLV)
  double cohort_size = 1.0;        // customers at t = 0
  // New customers joining at t = 1, 2, ...; a single entry means "every period".
  std::vector<double> arrivals;
  bool arrivals_constant = false;
  bool normalize = false;  // rescale rows, starts and shares instead of failing
  double tolerance = 1e-9; // for sums of 1: in [0, kMaxTolerance]
};

class Journey {
public:
  // Throws JourneyError (a std::invalid_argument) naming the stage, segment or
  // stream at fault.
  explicit Journey(JourneySpec spec);

  [[nodiscard]] std::size_t n_stages() const { return spec_.stages.size(); }
  [[nodiscard]] std::size_t n_streams() const {
    return spec_.segments[0].streams.size();
  }
  [[nodiscard]] const std::vector<std::string> &stages() const { return spec_.stages; }
  [[nodiscard]] const std::vector<Segment> &segments() const { return spec_.segments; }
  [[nodiscard]] const std::vector<bool> &absorbing() const { return absorbing_; }
  [[nodiscard]] const std::vector<int> &value_stages() const {
    return spec_.value_stages;
  }
  [[nodiscard]] const std::vector<double> &net_weights() const {
    return spec_.net_weights;
  }
  [[nodiscard]] double cohort_size() const { return spec_.cohort_size; }
  [[nodiscard]] const JourneySpec &spec() const { return spec_; }

  // Customers joining at calendar period t >= 1 (zero beyond a given vector).
  [[nodiscard]] double arrivals_at(long t) const;
  [[nodiscard]] bool has_arrivals() const;
  // The tenure from which every matrix and value is constant.
  [[nodiscard]] int stationary_from() const;
  [[nodiscard]] std::vector<std::string> stream_names() const;

private:
  void validate();
  JourneySpec spec_;
  std::vector<bool> absorbing_;
};

} // namespace journeysim
