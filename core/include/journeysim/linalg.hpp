// The two linear-algebra kernels of the exact analytics, dense or sparse by the
// density of the matrix: journeys are usually sparse (a stage has a few exits),
// and a large sparse journey is far cheaper with sparse products and a sparse LU.
#pragma once

#include "journeysim/model.hpp"

#include <Eigen/SparseCore>
#include <Eigen/SparseLU>

#include <optional>

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

// Solves M X = B for a square M factorised once (partial-pivot LU, or a sparse LU).
class LinearSolver {
public:
  explicit LinearSolver(const Matrix &M);
  [[nodiscard]] Matrix solve(const Matrix &B) const;

private:
  std::optional<Eigen::PartialPivLU<Matrix>> dense_;
  std::optional<Eigen::SparseLU<Eigen::SparseMatrix<double>>> sparse_;
};

} // namespace journeysim
