// Internal to the exact analytics (not installed): the tenure pieces of a
// segment ("epochs") with their effective value vectors, and the
// absorbing-chain solves through the fundamental matrix that analyze(), the
// first visits and the sensitivities share.
#pragma once

#include "journeysim/exact.hpp"
#include "journeysim/linalg.hpp"

#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace journeysim::detail {

using Index = Eigen::Index;
using RowVector = Eigen::RowVectorXd;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- epochs.cpp ------------------------------------------------------------

// Everything that is constant between two consecutive tenure breakpoints of a
// segment: the matrix in force and the effective per-stage value vectors.
struct Epoch {
  int start = 0;
  const Matrix *P = nullptr;
  std::optional<Propagator> prop; // x P and P W, dense or sparse
  Matrix A;         // S x (K+1): streams (discounted convention), then "alive"
  Matrix A_nominal; // S x K: streams with d = 1, for undiscounted amounts
};

// Per-period discount factor of each stream, then 1 for the "alive" column.
Vector discount_factors(const Segment &seg);

// The epochs of a segment, at every tenure where its matrix or a value changes.
std::vector<Epoch> make_epochs(const Segment &seg, const std::vector<bool> &absorbing,
                               const Vector &dvec, Accrual accrual);

// The index of the epoch in force at `tenure`.
inline std::size_t epoch_at(const std::vector<Epoch> &epochs, long tenure) {
  std::size_t e = 0;
  while (e + 1 < epochs.size() && epochs[e + 1].start <= tenure) ++e;
  return e;
}

// ---- fundamental.cpp -------------------------------------------------------

// P * W where W may hold infinities: terms with P_ij == 0 contribute nothing.
Matrix safe_product(const Propagator &prop, const Matrix &W);

// The indices where `flag` is set, and the submatrix P[rows, cols].
std::vector<Index> indices_of(const std::vector<bool> &flag);
Matrix submatrix(const Matrix &P, const std::vector<Index> &rows,
                 const std::vector<Index> &cols);

// Factorisations of I - d P[set, set], shared by the whole-lifetime values and
// the absorption probabilities (which often need the same one).
class SolverCache {
public:
  explicit SolverCache(const Matrix &P) : P_(P) {}
  const FundamentalSolver &get(double d, const std::vector<bool> &set);
  // The worst-conditioned undiscounted factorisation (I - Q itself), or nullptr.
  // Discounted ones (d < 1) are left out: with a tiny discount rate their
  // condition number is about 1 / (1 - d) on any closed class, which says
  // nothing about the journey, and they are never worse conditioned than I - Q.
  [[nodiscard]] const FundamentalSolver *worst() const;

private:
  const Matrix &P_;
  std::map<std::pair<double, std::vector<bool>>, std::unique_ptr<FundamentalSolver>>
      cache_;
};

// The warning for an ill-conditioned fundamental matrix, naming its condition
// number and what it means for the precision of the results.
std::string condition_warning(const FundamentalSolver &s);

// The whole-lifetime value W = sum_{n>=0} d^n P^n a of a stationary chain, column
// by column (each column with its own d). For d < 1 the series always converges
// and W = (I - dP)^-1 a. For d >= 1 it diverges from exactly the stages that can
// reach an "explosive" class (a communicating class C with d * rho(P_C) >= 1:
// every closed class, and for d > 1 also slowly leaking ones) from which a
// nonzero value can be reached; there W is +inf or -inf by the sign of the values
// reachable from such classes (nan if both). W is 0 where only zero values can be
// reached, and a regular solve elsewhere.
Matrix whole_lifetime(const Matrix &P, const Matrix &A, const Vector &dvec,
                      SolverCache &solvers);

// Probability of ending in each absorbing stage (S x number of absorbing
// stages, in stage order) for the stationary chain. Stages that can never be
// absorbed get 0.
Matrix stationary_absorption(const Matrix &P, const std::vector<bool> &absorbing,
                             SolverCache &solvers);

// ---- chain.cpp -------------------------------------------------------------

// The chain in which the `stop` stages keep everyone who arrives (their rows
// made the identity): first passage into them.
Matrix stop_at(const Matrix &P, const std::vector<bool> &stop);

// First passage of one segment from each stage at tenure 0: h the probability
// of reaching `target` before `avoid`, q its complement (computed on its own),
// g = E[periods to the target; reached]; with the condition number of the
// stationary solve and its warning when above kIllConditioned.
struct Passage {
  Vector h, q, g;
  double condition = 1.0;
  std::string warning;
};
Passage segment_passage(const Segment &seg, const std::vector<bool> &target,
                        const std::vector<bool> &avoid);

// ---- first_visits.cpp ------------------------------------------------------

// Time to value of one segment over T periods: fills r.value_reached,
// r.ttv_reached and r.ttv_mean (nan without value stages), and raises
// r.condition (with its warning) when the chain that stops at the value stages
// is worse conditioned than those already solved.
void time_to_value(const Journey &journey, const Segment &seg,
                   const std::vector<Epoch> &epochs, int T, Analysis &r);

} // namespace journeysim::detail
