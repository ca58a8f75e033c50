// The linear-algebra kernels of the exact analytics, dense or sparse by the
// density of the matrix: journeys are usually sparse (a stage has a few exits),
// and a large sparse journey is far cheaper with sparse products and a sparse LU.
#pragma once

#include "journeysim/model.hpp"

#include <Eigen/SparseCore>
#include <Eigen/SparseLU>

#include <optional>
#include <vector>

namespace journeysim {

// True when a sparse representation of an n x n matrix with `nonzeros` entries pays.
bool prefer_sparse(Eigen::Index n, Eigen::Index nonzeros);

// Products with a transition matrix: x P (propagation) and P W (value to go).
class Propagator {
public:
  explicit Propagator(const Matrix &P);
  [[nodiscard]] Eigen::RowVectorXd left(const Eigen::RowVectorXd &x) const;
  [[nodiscard]] Matrix right(const Matrix &W) const;
  [[nodiscard]] const Matrix &dense() const { return *P_; }

private:
  const Matrix *P_;
  std::optional<Eigen::SparseMatrix<double, Eigen::RowMajor>> sparse_;
};

// Solves systems with the "fundamental" matrix A = I - d P[idx, idx] of a
// chain restricted to the stages `idx` (d a discount factor), factorised once.
//
// Accuracy. The diagonal is never formed as 1 - d P_ii, which cancels when a
// stage stays put with a probability close to 1 (stay 1 - 1e-12 would lose
// four digits): a row of P is taken to sum to one, so that
// 1 - d P_ii = (1 - d) + d sum_{j != i} P_ij, a sum of non-negative terms for
// d <= 1. With d <= 1 and a dense matrix, A is factorised by Gaussian
// elimination in the Grassmann-Taksar-Heyman manner: each pivot is rebuilt
// from the row sums of the Schur complement, so that no step subtracts and the
// solution for a non-negative right-hand side (expected lifetimes, absorption
// probabilities, times to value) is accurate to a small multiple of n * eps
// entrywise, however ill-conditioned A is. Otherwise (d > 1, or a large sparse
// matrix) a partial-pivot or sparse LU is used, accurate to about cond(A) * eps;
// a sparse one whose condition number exceeds kIllConditioned is factorised
// again by the dense elimination when d <= 1 and it has at most kDenseFallback
// stages.
class FundamentalSolver {
public:
  FundamentalSolver(const Matrix &P, const std::vector<Eigen::Index> &idx, double d);
  [[nodiscard]] Matrix solve(const Matrix &B) const;            // A X = B
  [[nodiscard]] Matrix solve_transposed(const Matrix &B) const; // A^T X = B
  // Condition number of A in the infinity norm, ||A|| ||A^-1||: exact up to
  // rounding, since A^-1 >= 0 gives ||A^-1|| = max_i (A^-1 1)_i. For d = 1 it
  // is about twice the longest expected time to leave `idx`.
  [[nodiscard]] double condition() const { return condition_; }
  // True when the subtraction-free (GTH) elimination was used.
  [[nodiscard]] bool subtraction_free() const { return gth_; }
  [[nodiscard]] Eigen::Index size() const { return m_; }

private:
  bool factor_gth(const Matrix &A, const Vector &rowsum);
  [[nodiscard]] double inverse_norm() const;

  Eigen::Index m_ = 0;
  bool gth_ = false;
  Matrix lu_; // GTH: unit lower L strictly below the diagonal, U on and above
  std::optional<Eigen::PartialPivLU<Matrix>> dense_;
  // mutable: Eigen 3.4 offers the transposed solve through a non-const view.
  mutable std::optional<Eigen::SparseLU<Eigen::SparseMatrix<double>>> sparse_;
  double condition_ = 1.0;
};

// Above this condition number of a fundamental matrix, the analysis warns.
constexpr double kIllConditioned = 1e12;
// Ill-conditioned sparse systems up to this size are factorised again by the
// dense subtraction-free elimination (about a second at this size).
constexpr Eigen::Index kDenseFallback = 3000;

} // namespace journeysim
