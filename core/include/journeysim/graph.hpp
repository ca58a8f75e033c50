// Reachability on the directed graph of a transition matrix (an edge i -> j
// wherever P(i, j) > 0). Used to tell which stages can ever be absorbed, so that
// the linear solves of the exact analytics are only asked where they are regular.
#pragma once

#include "journeysim/model.hpp"

#include <vector>

namespace journeysim {

// For each stage: can it reach (in zero or more steps) a stage in `targets`?
std::vector<bool> can_reach(const Matrix &P, const std::vector<bool> &targets);

} // namespace journeysim
