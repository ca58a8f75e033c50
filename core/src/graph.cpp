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

namespace journeysim {

std::vector<bool> reachable_from(const Matrix &P, const std::vector<bool> &sources) {
  const auto n = static_cast<std::size_t>(P.rows());
  std::vector<bool> reach(sources);
  std::vector<std::size_t> queue;
  for (std::size_t i = 0; i < n; ++i)
    if (reach[i]) queue.push_back(i);
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const auto i = static_cast<Eigen::Index>(queue[head]);
    for (std::size_t j = 0; j < n; ++j)
      if (!reach[j] && P(i, static_cast<Eigen::Index>(j)) > 0.0) {
        reach[j] = true;
        queue.push_back(j);
      }
  }
  return reach;
}

Components components(const Matrix &P) {
  // Kosaraju, iteratively: finish order on the graph, then sweep the transpose.
  const auto n = static_cast<std::size_t>(P.rows());
  auto edge = [&](std::size_t i, std::size_t j) {
    return P(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) > 0.0;
  };
  std::vector<std::size_t> order;
  std::vector<bool> seen(n, false);
  for (std::size_t root = 0; root < n; ++root) {
    if (seen[root]) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};
    seen[root] = true;
    while (!stack.empty()) {
      auto &[v, next] = stack.back();
      while (next < n && (seen[next] || !edge(v, next))) ++next;
      if (next < n) {
        seen[next] = true;
        const std::size_t w = next++;
        stack.emplace_back(w, 0);
      } else {
        order.push_back(v);
        stack.pop_back();
      }
    }
  }
  Components c;
  c.of.assign(n, -1);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (c.of[*it] >= 0) continue;
    std::vector<std::size_t> stack{*it};
    c.of[*it] = c.count;
    c.members.emplace_back();
    while (!stack.empty()) {
      const std::size_t v = stack.back();
      stack.pop_back();
      c.members.back().push_back(static_cast<Eigen::Index>(v));
      for (std::size_t u = 0; u < n; ++u)
        if (c.of[u] < 0 && edge(u, v)) {
          c.of[u] = c.count;
          stack.push_back(u);
        }
    }
    ++c.count;
  }
  c.closed.assign(static_cast<std::size_t>(c.count), true);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (edge(i, j) && c.of[i] != c.of[j])
        c.closed[static_cast<std::size_t>(c.of[i])] = false;
  return c;
}

} // namespace journeysim
