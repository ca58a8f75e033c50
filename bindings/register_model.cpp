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

// The arguments of make_journey that rebuild `j` bit for bit: its validated
// spec (already normalised, so restoring it changes no number).
py::tuple journey_state(const Journey &j) {
  const JourneySpec &s = j.spec();
  std::vector<SegmentTuple> segments;
  for (const Segment &seg : s.segments) {
    std::vector<StreamTuple> streams;
    for (const ValueStream &vs : seg.streams) {
      std::optional<Matrix> moves;
      if (vs.transition_values.size() > 0) moves = vs.transition_values;
      streams.emplace_back(vs.name, vs.discount_rate, vs.stage_values.starts,
                           vs.stage_values.pieces, moves);
    }
    segments.emplace_back(seg.name, seg.share, seg.transitions.starts,
                          seg.transitions.pieces, std::move(streams), seg.start);
  }
  std::vector<int> absorbing = s.absorbing;
  if (absorbing.empty() && !s.detect_absorbing) absorbing = {-1};
  return py::make_tuple(s.stages, segments, absorbing, s.value_stages, s.net_weights,
                        s.cohort_size, s.arrivals, s.arrivals_constant, s.normalize,
                        s.tolerance);
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
      // Pickled as its validated spec, so that journeys travel to other
      // processes (Dask workers) and come back identical.
      .def(py::pickle(&journey_state,
                      [](const py::tuple &t) {
                        if (t.size() != 10)
                          throw std::runtime_error("invalid pickled Journey state");
                        return make_journey(
                            t[0].cast<std::vector<std::string>>(),
                            t[1].cast<std::vector<SegmentTuple>>(),
                            t[2].cast<std::vector<int>>(),
                            t[3].cast<std::vector<int>>(),
                            t[4].cast<std::vector<double>>(), t[5].cast<double>(),
                            t[6].cast<std::vector<double>>(), t[7].cast<bool>(),
                            t[8].cast<bool>(), t[9].cast<double>());
                      }))
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
