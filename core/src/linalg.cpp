#include "journeysim/linalg.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace journeysim {

using Index = Eigen::Index;

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

FundamentalSolver::FundamentalSolver(const Matrix &P, const std::vector<Index> &idx,
                                     double d)
    : m_(static_cast<Index>(idx.size())) {
  const Index n = P.rows();
  const Index m = m_;
  // Position of each stage in idx, or -1 outside.
  std::vector<Index> pos(static_cast<std::size_t>(n), -1);
  for (Index r = 0; r < m; ++r)
    pos[static_cast<std::size_t>(idx[static_cast<std::size_t>(r)])] = r;
  // Off-diagonal entries -d P_ij inside the set; per row, the probability of
  // moving to another stage of the set (`inside`) and of leaving it (`out`).
  Matrix A = Matrix::Zero(m, m);
  Vector inside = Vector::Zero(m), out = Vector::Zero(m);
  for (Index r = 0; r < m; ++r) {
    const Index i = idx[static_cast<std::size_t>(r)];
    for (Index j = 0; j < n; ++j) {
      if (j == i) continue;
      const double p = P(i, j);
      if (p == 0.0) continue;
      const Index c = pos[static_cast<std::size_t>(j)];
      if (c >= 0) {
        A(r, c) = -d * p;
        inside(r) += p;
      } else {
        out(r) += p;
      }
    }
  }
  // Row sums of A, (1 - d) + d out_i, and its diagonal, (1 - d) + d (out_i + inside_i):
  // both sums of non-negative terms when d <= 1.
  const double one_minus_d = 1.0 - d;
  Vector rowsum(m);
  double norm = 0.0;
  for (Index r = 0; r < m; ++r) {
    rowsum(r) = one_minus_d + d * out(r);
    const double diag = one_minus_d + d * (out(r) + inside(r));
    A(r, r) = diag;
    norm = std::max(norm, std::abs(diag) + d * inside(r));
  }
  if (m == 0) return;

  const bool sparse = prefer_sparse(m, (A.array() != 0.0).count());
  if (d <= 1.0 && !sparse && factor_gth(A, rowsum)) {
    // done
  } else if (sparse) {
    Eigen::SparseMatrix<double> S = A.sparseView();
    S.makeCompressed();
    sparse_.emplace();
    sparse_->compute(S);
    if (sparse_->info() != Eigen::Success) {
      // Numerically singular for the sparse pivoting: fall back to dense.
      sparse_.reset();
      dense_.emplace(A);
    }
  } else {
    dense_.emplace(A);
  }
  condition_ = norm * inverse_norm();
  // An ill-conditioned sparse system of a moderate size: worth the dense,
  // subtraction-free elimination (O(m^3), only in this case).
  if (condition_ > kIllConditioned && d <= 1.0 && !gth_ && m <= kDenseFallback &&
      factor_gth(A, rowsum)) {
    sparse_.reset();
    dense_.reset();
    condition_ = norm * inverse_norm();
  }
}

bool FundamentalSolver::factor_gth(const Matrix &A, const Vector &rowsum) {
  // Gaussian elimination without pivoting, each pivot rebuilt from the row sums
  // of the Schur complement (Grassmann, Taksar and Heyman): for a diagonally
  // dominant M-matrix no step subtracts two positive numbers.
  const Index m = A.rows();
  Matrix lu = A;
  Vector s = rowsum; // row sums of the remaining Schur complement
  for (Index k = 0; k < m; ++k) {
    double pivot = s(k);
    for (Index j = k + 1; j < m; ++j) pivot -= lu(k, j);       // entries <= 0
    if (!(pivot > 0.0) || !std::isfinite(pivot)) return false; // leave it to LU
    lu(k, k) = pivot;
    const Index rest = m - k - 1;
    for (Index i = k + 1; i < m; ++i) {
      const double a = lu(i, k);
      if (a == 0.0) continue;
      const double l = a / pivot; // <= 0
      lu(i, k) = l;
      s(i) -= l * s(k); // s_i + |l| s_k
      // a_ij - l a_kj: both terms <= 0 off the diagonal (the diagonal is
      // rebuilt from s when its turn comes).
      lu.row(i).tail(rest) -= l * lu.row(k).tail(rest);
    }
  }
  lu_ = std::move(lu);
  gth_ = true;
  return true;
}

double FundamentalSolver::inverse_norm() const {
  // ||A^-1||_inf = max_i (A^-1 1)_i, since A^-1 >= 0 (a non-singular M-matrix).
  const Vector w = solve(Matrix::Ones(m_, 1)).col(0);
  double inv = 0.0;
  for (Index r = 0; r < m_; ++r) inv = std::max(inv, std::abs(w(r)));
  return std::isfinite(inv) ? inv : std::numeric_limits<double>::infinity();
}

Matrix FundamentalSolver::solve(const Matrix &B) const {
  if (m_ == 0) return Matrix(0, B.cols());
  if (gth_) {
    Matrix X = lu_.triangularView<Eigen::UnitLower>().solve(B);
    lu_.triangularView<Eigen::Upper>().solveInPlace(X);
    return X;
  }
  if (sparse_) {
    // SparseLU works on column-major right-hand sides and results.
    const Eigen::MatrixXd b = B;
    const Eigen::MatrixXd x = sparse_->solve(b);
    return x;
  }
  return dense_->solve(B);
}

Matrix FundamentalSolver::solve_transposed(const Matrix &B) const {
  if (m_ == 0) return Matrix(0, B.cols());
  if (gth_) {
    // A^T = U^T L^T.
    Matrix X = lu_.triangularView<Eigen::Upper>().transpose().solve(B);
    lu_.triangularView<Eigen::UnitLower>().transpose().solveInPlace(X);
    return X;
  }
  if (sparse_) {
    const Eigen::MatrixXd b = B;
    const Eigen::MatrixXd x = sparse_->transpose().solve(b); // (non-const in Eigen)
    return x;
  }
  return dense_->transpose().solve(B);
}

} // namespace journeysim
