// Compensated (Neumaier) summation for the long floating-point sums of the
// core: values over thousands of periods, or over millions of blocks of
// customers. Internal to the core (not installed).
#pragma once

#include <cmath>

namespace journeysim::detail {

// The running sum of many doubles with an error term, so that the result is
// within a couple of ulps of the exact sum of the terms, whatever their number
// and signs (Neumaier's variant of Kahan's algorithm).
struct CompensatedSum {
  double sum = 0.0, error = 0.0;
  void add(double x) {
    const double t = sum + x;
    if (std::abs(sum) >= std::abs(x))
      error += (sum - t) + x;
    else
      error += (x - t) + sum;
    sum = t;
  }
  // An infinite or nan sum stays what it is (its error term is meaningless).
  [[nodiscard]] double value() const { return std::isfinite(sum) ? sum + error : sum; }
};

} // namespace journeysim::detail
