#include "pybind11.hpp"

#include "journeysim/model.hpp"

#include <optional>
#include <tuple>

using namespace journeysim;

namespace {

// (name, discount_rate, value starts, values per piece, transition values or None)
using StreamTuple = std::tuple<std::string, double, std::vector<int>,
                               std::vector<Vector>, std::optional<Matrix>>;
// (name, share, transition starts, matrices per piece, streams, start)
using SegmentTuple = std::tuple<std::string, double, std::vector<int>,
                                std::vector<Matrix>, std::vector<StreamTuple>, Vector>;

Journey make_journey(std::vector<std::string> stages,
                     std::vector<SegmentTuple> segments, std::vector<int> absorbing,
                     std::vector<int> value_stages, std::vector<double> net_weights,
                     double cohort_size, std::vector<double> arrivals,
                     bool arrivals_constant, bool normalize, double tolerance) {
  JourneySpec spec;
  spec.stages = std::move(stages);
  for (auto &[name, share, starts, mats, streams, start] : segments) {
    Segment seg;
    seg.name = name;
    seg.share = share;
    seg.transitions.starts = starts;
    seg.transitions.pieces = mats;
    for (auto &[sname, rate, vstarts, values, moves] : streams) {
      ValueStream vs;
      vs.name = sname;
      vs.discount_rate = rate;
      vs.stage_values.starts = vstarts;
      vs.stage_values.pieces = values;
      if (moves) vs.transition_values = *moves;
      seg.streams.push_back(std::move(vs));
    }
    seg.start = start;
    spec.segments.push_back(std::move(seg));
  }
  // A list with -1 alone means "no absorbing stage" (rather than "detect them").
  if (absorbing.size() == 1 && absorbing[0] == -1) {
    spec.detect_absorbing = false;
    absorbing.clear();
  }
  spec.absorbing = std::move(absorbing);
  spec.value_stages = std::move(value_stages);
  spec.net_weights = std::move(net_weights);
  spec.cohort_size = cohort_size;
  spec.arrivals = std::move(arrivals);
  spec.arrivals_constant = arrivals_constant;
  spec.normalize = normalize;
  spec.tolerance = tolerance;
  return Journey(std::move(spec));
}

const Segment &segment(const Journey &j, std::size_t i) {
  if (i >= j.segments().size()) throw py::index_error("segment index out of range");
  return j.segments()[i];
}

} // namespace

void register_model(py::module_ &m) {
  py::enum_<Accrual>(m, "Accrual")
      .value("start", Accrual::Start)
      .value("end", Accrual::End)
      .value("half_cycle", Accrual::HalfCycle);

  py::class_<Journey>(m, "Journey")
      .def(py::init(&make_journey), py::arg("stages"), py::arg("segments"),
           py::arg("absorbing"), py::arg("value_stages"), py::arg("net_weights"),
           py::arg("cohort_size"), py::arg("arrivals"), py::arg("arrivals_constant"),
           py::arg("normalize"), py::arg("tolerance"))
      .def_property_readonly("stages", &Journey::stages)
      .def_property_readonly("absorbing", &Journey::absorbing)
      .def_property_readonly("n_segments",
                             [](const Journey &j) { return j.segments().size(); })
      .def_property_readonly("stationary_from", &Journey::stationary_from)
      .def_property_readonly("net_weights", &Journey::net_weights)
      .def("share", [](const Journey &j, std::size_t i) { return segment(j, i).share; })
      .def("start", [](const Journey &j, std::size_t i) { return segment(j, i).start; })
      .def("transition_starts",
           [](const Journey &j, std::size_t i) {
             return segment(j, i).transitions.starts;
           })
      .def("transitions", [](const Journey &j, std::size_t i) {
        return segment(j, i).transitions.pieces;
      });
}
