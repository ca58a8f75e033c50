// Small builders shared by the Catch2 files: vectors and matrices from literals.
#pragma once

#include "journeysim/model.hpp"

#include <vector>

namespace journeysim::testing {

inline Vector vec(const std::vector<double> &xs) {
  Vector v(static_cast<Eigen::Index>(xs.size()));
  for (std::size_t i = 0; i < xs.size(); ++i) v(static_cast<Eigen::Index>(i)) = xs[i];
  return v;
}

inline Matrix mat(const std::vector<std::vector<double>> &rows) {
  const auto n = static_cast<Eigen::Index>(rows.size());
  const auto m = static_cast<Eigen::Index>(rows.empty() ? 0 : rows[0].size());
  Matrix M(n, m);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j)
      M(i, j) = rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
  return M;
}

} // namespace journeysim::testing
