#include "pybind11.hpp"

#include "journeysim/fit.hpp"

using namespace journeysim;

void register_fit(py::module_ &m) {
  m.def(
      "count_transitions",
      [](py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> customer,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> period,
         py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> stage,
         std::optional<
             py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>>
             segment,
         int stages, int segments, std::vector<int> tenure_starts,
         std::vector<bool> absorbing, bool carry_forward, std::int64_t end_period) {
        const auto n = static_cast<std::size_t>(customer.size());
        if (static_cast<std::size_t>(period.size()) != n ||
            static_cast<std::size_t>(stage.size()) != n ||
            (segment && static_cast<std::size_t>(segment->size()) != n))
          throw std::invalid_argument("count_transitions: arrays differ in length");
        const std::int32_t *seg = segment ? segment->data() : nullptr;
        TransitionCounts r;
        {
          py::gil_scoped_release release;
          r = count_transitions(customer.data(), period.data(), stage.data(), seg, n,
                                stages, segments, tenure_starts, absorbing,
                                carry_forward, end_period);
        }
        const auto G = static_cast<py::ssize_t>(r.segments);
        const auto P = static_cast<py::ssize_t>(r.pieces);
        const auto S = static_cast<py::ssize_t>(r.stages);
        return py::make_tuple(to_numpy(std::move(r.counts), {G, P, S, S}),
                              to_numpy(std::move(r.starts), {G, S}));
      },
      py::arg("customer"), py::arg("period"), py::arg("stage"), py::arg("segment"),
      py::arg("stages"), py::arg("segments"), py::arg("tenure_starts"),
      py::arg("absorbing"), py::arg("carry_forward"), py::arg("end_period"));
  m.def(
      "count_transitions_by_period",
      [](py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> customer,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> period,
         py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> stage,
         int stages, std::vector<bool> absorbing, bool carry_forward,
         std::int64_t origin, std::int64_t end_period) {
        const auto n = static_cast<std::size_t>(customer.size());
        if (static_cast<std::size_t>(period.size()) != n ||
            static_cast<std::size_t>(stage.size()) != n)
          throw std::invalid_argument(
              "count_transitions_by_period: arrays differ in length");
        TransitionCounts r;
        {
          py::gil_scoped_release release;
          r = count_transitions_by_period(customer.data(), period.data(), stage.data(),
                                          nullptr, n, stages, 1, absorbing,
                                          carry_forward, origin, end_period);
        }
        const auto P = static_cast<py::ssize_t>(r.pieces);
        const auto S = static_cast<py::ssize_t>(r.stages);
        return to_numpy(std::move(r.counts), {P, S, S});
      },
      py::arg("customer"), py::arg("period"), py::arg("stage"), py::arg("stages"),
      py::arg("absorbing"), py::arg("carry_forward"), py::arg("origin"),
      py::arg("end_period"));
}
