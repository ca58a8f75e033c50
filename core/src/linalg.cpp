#include "journeysim/linalg.hpp"

#include <stdexcept>

namespace journeysim {

bool prefer_sparse(Eigen::Index n, Eigen::Index nonzeros) {
  // Below ~64 stages dense kernels win whatever the density.
  return n >= 64 && nonzeros * 8 <= n * n;
}

Propagator::Propagator(const Matrix &P) : P_(&P) {
  const auto nnz = (P.array() != 0.0).count();
  if (prefer_sparse(P.rows(), nnz)) sparse_ = P.sparseView();
}

Eigen::RowVectorXd Propagator::left(const Eigen::RowVectorXd &x) const {
  if (sparse_) return x * (*sparse_);
  return x * (*P_);
}

Matrix Propagator::right(const Matrix &W) const {
  if (sparse_) return (*sparse_) * W;
  // Few columns: a coefficient-wise product streams P once and packs nothing.
  if (W.cols() <= 8) return P_->lazyProduct(W);
  return (*P_) * W;
}

LinearSolver::LinearSolver(const Matrix &M) {
  const auto nnz = (M.array() != 0.0).count();
  if (prefer_sparse(M.rows(), nnz)) {
    Eigen::SparseMatrix<double> S = M.sparseView();
    S.makeCompressed();
    sparse_.emplace();
    sparse_->compute(S);
    if (sparse_->info() != Eigen::Success) {
      // Numerically singular for the sparse pivoting: fall back to dense.
      sparse_.reset();
      dense_.emplace(M);
    }
  } else {
    dense_.emplace(M);
  }
}

Matrix LinearSolver::solve(const Matrix &B) const {
  if (sparse_) {
    // SparseLU works on column-major right-hand sides and results.
    const Eigen::MatrixXd b = B;
    const Eigen::MatrixXd x = sparse_->solve(b);
    return x;
  }
  return dense_->solve(B);
}

} // namespace journeysim
