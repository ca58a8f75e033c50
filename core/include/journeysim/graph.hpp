// Reachability on the directed graph of a transition matrix (an edge i -> j
// wherever P(i, j) > 0). Used to tell which stages can ever be absorbed, so that
// the linear solves of the exact analytics are only asked where they are regular.
#pragma once

#include "journeysim/model.hpp"

#include <vector>

namespace journeysim {

// For each stage: can it reach (in zero or more steps) a stage in `targets`?
std::vector<bool> can_reach(const Matrix &P, const std::vector<bool> &targets);

// For each stage: is it reachable (in zero or more steps) from a stage in `sources`?
std::vector<bool> reachable_from(const Matrix &P, const std::vector<bool> &sources);

// Communicating classes (strongly connected components) of the chain.
struct Components {
  int count = 0;
  std::vector<int> of;                            // class of each stage
  std::vector<std::vector<Eigen::Index>> members; // stages of each class
  std::vector<bool> closed;                       // no way out of the class
};
Components components(const Matrix &P);

} // namespace journeysim
