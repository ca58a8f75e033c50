#include "pybind11.hpp"

#include "journeysim/model.hpp"

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

using namespace journeysim;
using namespace pybind11::literals;

namespace {

ValueStream make_stream(std::string name, double discount_rate,
                        std::vector<int> value_starts, std::vector<Vector> values,
                        std::optional<Matrix> transition_values) {
  ValueStream vs;
  vs.name = std::move(name);
  vs.discount_rate = discount_rate;
  vs.stage_values.starts = std::move(value_starts);
  vs.stage_values.pieces = std::move(values);
  if (transition_values) vs.transition_values = std::move(*transition_values);
  return vs;
}

Segment make_segment(std::string name, double share, std::vector<int> transition_starts,
                     std::vector<Matrix> transitions, std::vector<ValueStream> streams,
                     Vector start) {
  Segment seg;
  seg.name = std::move(name);
  seg.share = share;
  seg.transitions.starts = std::move(transition_starts);
  seg.transitions.pieces = std::move(transitions);
  seg.streams = std::move(streams);
  seg.start = std::move(start);
  return seg;
}

// absorbing: None to detect the absorbing stages, a list (maybe empty) to name them.
JourneySpec make_spec(std::vector<std::string> stages, std::vector<Segment> segments,
                      std::optional<std::vector<int>> absorbing,
                      std::vector<int> value_stages, std::vector<double> net_weights,
                      double cohort_size, std::vector<double> arrivals,
                      bool arrivals_constant, bool normalize, double tolerance) {
  JourneySpec spec;
  spec.stages = std::move(stages);
  spec.segments = std::move(segments);
  spec.detect_absorbing = !absorbing;
  if (absorbing) spec.absorbing = std::move(*absorbing);
  spec.value_stages = std::move(value_stages);
  spec.net_weights = std::move(net_weights);
  spec.cohort_size = cohort_size;
  spec.arrivals = std::move(arrivals);
  spec.arrivals_constant = arrivals_constant;
  spec.normalize = normalize;
  spec.tolerance = tolerance;
  return spec;
}

std::optional<std::vector<int>> absorbing_of(const JourneySpec &s) {
  if (s.absorbing.empty() && s.detect_absorbing) return std::nullopt;
  return s.absorbing;
}

// Read-only numpy views of a spec's vectors and matrices, whose base is `owner`
// (the Python object holding them, kept alive by the views).
template <class T> py::object view(const T &x, py::handle owner) {
  return py::cast(&x, py::return_value_policy::reference_internal, owner);
}
template <class T> py::list views(const std::vector<T> &xs, py::handle owner) {
  py::list out;
  for (const T &x : xs) out.append(view(x, owner));
  return out;
}
// Elements of a vector of bound objects, as references kept alive by `owner`.
template <class T> py::list elements(const std::vector<T> &xs, py::handle owner) {
  py::list out;
  for (const T &x : xs)
    out.append(py::cast(&x, py::return_value_policy::reference_internal, owner));
  return out;
}

template <class T> T cast_state(const py::dict &state, const char *key) {
  if (!state.contains(key))
    throw std::runtime_error(std::string("invalid pickled state: no '") + key + "'");
  return state[key].cast<T>();
}

const Segment &segment(const Journey &j, std::size_t i) {
  if (i >= j.segments().size()) throw py::index_error("segment index out of range");
  return j.segments()[i];
}

// journeysim._core.JourneyError (a ValueError), raised for a journey that fails
// validation, with the part of the spec, the segment and the stream as
// attributes. Set once, when the module is imported.
PyObject *journey_error = nullptr;

void translate_journey_error(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const JourneyError &e) {
    py::object err = py::reinterpret_borrow<py::object>(journey_error)(e.what());
    err.attr("part") = e.part;
    err.attr("segment") = e.segment;
    err.attr("stream") = e.stream;
    PyErr_SetObject(journey_error, err.ptr());
  }
}

} // namespace

void register_model(py::module_ &m) {
  // Registered before any function that builds a journey. Never freed: a
  // Python object must not be released after the interpreter has finalised.
  journey_error =
      (new py::exception<JourneyError>(m, "JourneyError", PyExc_ValueError))->ptr();
  py::register_exception_translator(&translate_journey_error);

  py::enum_<Accrual>(m, "Accrual")
      .value("start", Accrual::Start)
      .value("end", Accrual::End)
      .value("half_cycle", Accrual::HalfCycle)
      .value("life_table", Accrual::LifeTable);

  // The journey's specification, as the core takes it: plain values, immutable
  // from Python, pickled as their keyword arguments.
  py::class_<ValueStream>(m, "ValueStream")
      .def(py::init(&make_stream), py::kw_only(), py::arg("name"),
           py::arg("discount_rate"), py::arg("value_starts"), py::arg("values"),
           py::arg("transition_values") = py::none())
      .def_readonly("name", &ValueStream::name)
      .def_readonly("discount_rate", &ValueStream::discount_rate)
      .def_property_readonly(
          "value_starts", [](const ValueStream &vs) { return vs.stage_values.starts; })
      .def_property_readonly("values",
                             [](const py::object &self) {
                               const auto &vs = self.cast<const ValueStream &>();
                               return views(vs.stage_values.pieces, self);
                             })
      .def_property_readonly("transition_values",
                             [](const py::object &self) -> py::object {
                               const auto &vs = self.cast<const ValueStream &>();
                               if (vs.transition_values.size() == 0) return py::none();
                               return view(vs.transition_values, self);
                             })
      .def("__repr__",
           [](const ValueStream &vs) {
             return "ValueStream(name='" + vs.name + "', " +
                    std::to_string(vs.stage_values.pieces.size()) + " tenure pieces" +
                    (vs.transition_values.size() ? ", transition values)" : ")");
           })
      .def(py::pickle(
          [](const py::object &self) {
            return py::dict("name"_a = self.attr("name"),
                            "discount_rate"_a = self.attr("discount_rate"),
                            "value_starts"_a = self.attr("value_starts"),
                            "values"_a = self.attr("values"),
                            "transition_values"_a = self.attr("transition_values"));
          },
          [](const py::dict &s) {
            return make_stream(
                cast_state<std::string>(s, "name"),
                cast_state<double>(s, "discount_rate"),
                cast_state<std::vector<int>>(s, "value_starts"),
                cast_state<std::vector<Vector>>(s, "values"),
                cast_state<std::optional<Matrix>>(s, "transition_values"));
          }));

  py::class_<Segment>(m, "Segment")
      .def(py::init(&make_segment), py::kw_only(), py::arg("name"), py::arg("share"),
           py::arg("transition_starts"), py::arg("transitions"), py::arg("streams"),
           py::arg("start"))
      .def_readonly("name", &Segment::name)
      .def_readonly("share", &Segment::share)
      .def_property_readonly("transition_starts",
                             [](const Segment &s) { return s.transitions.starts; })
      .def_property_readonly("transitions",
                             [](const py::object &self) {
                               const auto &s = self.cast<const Segment &>();
                               return views(s.transitions.pieces, self);
                             })
      .def_property_readonly("streams",
                             [](const py::object &self) {
                               return elements(self.cast<const Segment &>().streams,
                                               self);
                             })
      .def_property_readonly("start",
                             [](const py::object &self) {
                               return view(self.cast<const Segment &>().start, self);
                             })
      .def("__repr__",
           [](const Segment &s) {
             return "Segment(name='" + s.name + "', " +
                    std::to_string(s.transitions.pieces.size()) + " tenure pieces, " +
                    std::to_string(s.streams.size()) + " streams)";
           })
      .def(py::pickle(
          [](const py::object &self) {
            return py::dict(
                "name"_a = self.attr("name"), "share"_a = self.attr("share"),
                "transition_starts"_a = self.attr("transition_starts"),
                "transitions"_a = self.attr("transitions"),
                "streams"_a = self.attr("streams"), "start"_a = self.attr("start"));
          },
          [](const py::dict &s) {
            return make_segment(cast_state<std::string>(s, "name"),
                                cast_state<double>(s, "share"),
                                cast_state<std::vector<int>>(s, "transition_starts"),
                                cast_state<std::vector<Matrix>>(s, "transitions"),
                                cast_state<std::vector<ValueStream>>(s, "streams"),
                                cast_state<Vector>(s, "start"));
          }));

  py::class_<JourneySpec>(m, "JourneySpec")
      .def(py::init(&make_spec), py::kw_only(), py::arg("stages"), py::arg("segments"),
           py::arg("absorbing") = py::none(),
           py::arg("value_stages") = std::vector<int>{},
           py::arg("net_weights") = std::vector<double>{}, py::arg("cohort_size") = 1.0,
           py::arg("arrivals") = std::vector<double>{},
           py::arg("arrivals_constant") = false, py::arg("normalize") = false,
           py::arg("tolerance") = 1e-9)
      .def_readonly("stages", &JourneySpec::stages)
      .def_property_readonly("segments",
                             [](const py::object &self) {
                               return elements(
                                   self.cast<const JourneySpec &>().segments, self);
                             })
      .def_property_readonly("absorbing", &absorbing_of)
      .def_readonly("value_stages", &JourneySpec::value_stages)
      .def_readonly("net_weights", &JourneySpec::net_weights)
      .def_readonly("cohort_size", &JourneySpec::cohort_size)
      .def_readonly("arrivals", &JourneySpec::arrivals)
      .def_readonly("arrivals_constant", &JourneySpec::arrivals_constant)
      .def_readonly("normalize", &JourneySpec::normalize)
      .def_readonly("tolerance", &JourneySpec::tolerance)
      .def("__repr__",
           [](const JourneySpec &s) {
             return "JourneySpec(" + std::to_string(s.stages.size()) + " stages, " +
                    std::to_string(s.segments.size()) + " segments)";
           })
      .def(py::pickle(
          [](const py::object &self) {
            py::dict d;
            for (const char *key : {"stages", "segments", "absorbing", "value_stages",
                                    "net_weights", "cohort_size", "arrivals",
                                    "arrivals_constant", "normalize", "tolerance"})
              d[key] = self.attr(key);
            return d;
          },
          [](const py::dict &s) {
            return make_spec(
                cast_state<std::vector<std::string>>(s, "stages"),
                cast_state<std::vector<Segment>>(s, "segments"),
                cast_state<std::optional<std::vector<int>>>(s, "absorbing"),
                cast_state<std::vector<int>>(s, "value_stages"),
                cast_state<std::vector<double>>(s, "net_weights"),
                cast_state<double>(s, "cohort_size"),
                cast_state<std::vector<double>>(s, "arrivals"),
                cast_state<bool>(s, "arrivals_constant"),
                cast_state<bool>(s, "normalize"), cast_state<double>(s, "tolerance"));
          }));

  py::class_<Journey>(m, "Journey")
      .def(py::init([](JourneySpec spec) {
             py::gil_scoped_release release;
             return Journey(std::move(spec));
           }),
           py::arg("spec"))
      // The validated spec (normalised when asked): building a Journey from it
      // gives the same numbers bit for bit.
      .def_property_readonly(
          "spec", [](const Journey &j) -> const JourneySpec & { return j.spec(); },
          py::return_value_policy::reference_internal)
      // Pickled as its validated spec, so that journeys travel to other
      // processes (Dask workers) and come back identical.
      .def(py::pickle([](const Journey &j) { return py::cast(j.spec()); },
                      [](const py::object &state) {
                        if (!py::isinstance<JourneySpec>(state))
                          throw std::runtime_error(
                              "invalid pickled Journey state: expected a JourneySpec");
                        return Journey(state.cast<JourneySpec>());
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
