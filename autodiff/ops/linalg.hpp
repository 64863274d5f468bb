#pragma once
// Linear algebra on OpenBLAS: matrix products (transposed operands are passed to BLAS as flags;
// the one copy is Bᵀ in small A·Bᵀ products with OpenBLAS's AVX-512 kernels, see linalg.cpp's
// transpose_b_first) and the outer product.
#include <autodiff/tensor.hpp>

namespace ad {

// NumPy's matmul: 1-d·1-d is a dot product (0-d); 2-d·2-d a matrix product; a 1-d operand is
// treated as a row (left) or column (right) vector and that dimension dropped from the result;
// ≥3-d operands are stacks of matrices whose batch dimensions broadcast.
// ∂A = G Bᵀ, ∂B = Aᵀ G (summed over broadcast batch dimensions).
Tensor matmul(const Tensor& a, const Tensor& b);
// outer(u, v)[i][j] = u[i] v[j] for 1-d u, v.
Tensor outer(const Tensor& u, const Tensor& v);
// x Wᵀ + b for x [batch, in], W [out, in], b [out] (the layout of nn::Linear and PyTorch):
// one node, one GEMM whose epilogue adds the bias: the same numbers as matmul(x, Wᵀ) + b. b may be
// undefined.
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b);
// relu(linear(x, W, b)) as one node, the same numbers: the ReLU applied in the bias's pass over the
// product, and in the backward the mask (in place on the output's gradient when nothing else holds
// it) and the bias gradient's column sums in one pass (nn::Sequential uses it for a Linear followed
// by a ReLU).
Tensor linear_relu(const Tensor& x, const Tensor& W, const Tensor& b);

namespace detail {
// C = op(A)·op(B) + beta·C on row-major buffers, exactly as every product of the engine runs:
// large ones cut into blocks over the engine's threads (autodiff/threads.hpp), each block on
// single-threaded OpenBLAS. For benchmarks (bench_mlp's GEMM floor) and custom ops.
//
// With `bias` (a row of n numbers), C = op(A)·op(B) + bias in every row instead (the product
// rounded, then the bias added: as matmul + add), beta unused; with `relu`, C = max(C, 0) after
// that (linear_relu). Each block applies both to its part of C on the thread that computes it.
//
// `cut` says which blocks a large product prefers: row blocks of C (each thread reads all of
// op(B)) or column blocks (each thread reads only its columns of op(B), all of op(A)); either falls
// back to the other when C has too few rows or columns. linear() cuts x·Wᵀ into columns, so that
// each core reads only the rows of W that it also writes in the weight gradient's row block and in
// the optimizer's slice (threads.hpp: the caller always runs part 0).
enum class GemmCut { Rows, Columns };
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
          const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc, GemmCut cut = GemmCut::Rows,
          const float* bias = nullptr, bool relu = false);
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda,
          const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc, GemmCut cut = GemmCut::Rows,
          const double* bias = nullptr, bool relu = false);
}  // namespace detail

}  // namespace ad
