#include "journeysim/graph.hpp"

#include <cstddef>

namespace journeysim {

std::vector<bool> can_reach(const Matrix &P, const std::vector<bool> &targets) {
  // Breadth-first search backwards from the targets over reversed edges.
  const auto n = static_cast<std::size_t>(P.rows());
  std::vector<bool> reach(targets);
  std::vector<std::size_t> queue;
  queue.reserve(n);
  for (std::size_t j = 0; j < n; ++j)
    if (reach[j]) queue.push_back(j);
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const auto j = static_cast<Eigen::Index>(queue[head]);
    for (std::size_t i = 0; i < n; ++i)
      if (!reach[i] && P(static_cast<Eigen::Index>(i), j) > 0.0) {
        reach[i] = true;
        queue.push_back(i);
      }
  }
  return reach;
}

} // namespace journeysim
