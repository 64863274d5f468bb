// Matrix products on OpenBLAS.
#include <autodiff/blas_kernels.hpp>
#include <autodiff/kernels.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/linalg.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/ops/unary.hpp>
#include <autodiff/tensor_node.hpp>
#include <autodiff/threads.hpp>

#include <cblas.h>

#include <mutex>

namespace ad {

using detail::GradContext;
using detail::save;

namespace {

// How BLAS should read a matrix view: pointer, leading dimension and transpose flag.
struct BlasOperand {
    Tensor holder;  // keeps a contiguous copy alive when the view was not BLAS-compatible
    std::int64_t ld = 0;
    bool trans = false;
};
// For the matrix in the last two dims of `x` (rows × cols, element strides (sr, sc)), or for its
// transpose when `transposed` (no view is made: the strides swap). A layout BLAS cannot read
// directly is copied to a contiguous tensor first.
BlasOperand blas_operand(const Tensor& x, bool transposed = false) {
    const int n = x.dim();
    std::int64_t rows = x.shape()[n - 2], cols = x.shape()[n - 1];
    std::int64_t sr = x.strides()[n - 2], sc = x.strides()[n - 1];
    if (transposed) {
        std::swap(rows, cols);
        std::swap(sr, sc);
    }
    if ((sc == 1 || cols == 1) && sr >= std::max<std::int64_t>(cols, 1)) return {x, sr, false};
    if ((sr == 1 || rows == 1) && sc >= std::max<std::int64_t>(rows, 1)) return {x, sc, true};
    Tensor c = x.detach().contiguous();  // x's own rows, row-major: its transpose is the same buffer, flagged
    return {c, std::max<std::int64_t>(x.shape()[n - 1], 1), transposed};
}

// OpenBLAS 0.3.21's AVX-512 kernel sets (SkylakeX, Cooperlake) multiply products of up to 10^6
// multiply-adds with kernels that read the operands in place, except C = A·Bᵀ (row-major) when C
// has more than 1200 entries or k < 32 (its sgemm_small_kernel_permit): those go through the
// packing path, which is slower at these sizes. The forward product x·Wᵀ of the 64-128-64-10
// step, 64×128×64, took 11.0 µs against 6.5 µs for A·B of the same shape; copying Bᵀ out first
// (cblas_somatcopy, 1.6 µs) and multiplying A·B took 7.9 µs (/tmp harness, 3000 calls, best of 7;
// with the Haswell kernel set, which has no such path, the copy only added its cost). When m < n,
// A (m × k) is the smaller of the two to copy, and C = (Aᵀ)ᵀ·Bᵀ from Aᵀ runs the kernels that read
// both operands transposed, also in place: the first layer's x·Wᵀ of that step (64×64 against
// 128×64) took 6.1 µs against 6.5, with the same bits, and the step 0.985× the time (10 rounds
// of 2 alternating pinned runs of the /tmp step driver, twenty-third session).
bool transpose_one_first(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k) {
    static const bool unpacked_kernels = detail::blas_core_level(openblas_get_corename()) == 3;
    return unpacked_kernels && tb && !ta && m * n * k <= 1000000 && (m * n > 1200 || k < 32);
}

// The transpose of the rows × cols matrix at p (leading dimension ld), row-major, in a tensor from
// the engine's pool (no allocation once warm).
template <class T>
Tensor transposed_copy(const T* p, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
    Tensor t = Tensor::empty(Shape{cols, rows}, dtype_of<T>());
    if constexpr (std::is_same_v<T, float>)
        cblas_somatcopy(CblasRowMajor, CblasTrans, int(rows), int(cols), 1.0f, p, int(ld), t.data<T>(), int(rows));
    else
        cblas_domatcopy(CblasRowMajor, CblasTrans, int(rows), int(cols), 1.0, p, int(ld), t.data<T>(), int(rows));
    return t;
}

template <class T>
void gemm_call(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    Tensor copy;  // Aᵀ (k × m) or Bᵀ (k × n)
    if (transpose_one_first(ta, tb, m, n, k)) {
        if (m < n) {
            copy = transposed_copy(a, m, k, lda);
            a = copy.data<T>();
            lda = m;
            ta = true;
        } else {
            copy = transposed_copy(b, n, k, ldb);
            b = copy.data<T>();
            ldb = n;
            tb = false;
        }
    }
    const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if constexpr (std::is_same_v<T, float>) {
        cblas_sgemm(CblasRowMajor, TA, TB, int(m), int(n), int(k), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
    } else {
        cblas_dgemm(CblasRowMajor, TA, TB, int(m), int(n), int(k), 1.0, a, int(lda), b, int(ldb), beta, c, int(ldc));
    }
}

// From this many multiply-adds (m·n·k) up, a product is cut into row blocks (column blocks when
// it has too few rows), one per engine thread (threads.hpp), each computed by single-threaded
// OpenBLAS; smaller products run whole on the calling thread. OpenBLAS's own threads are never
// used: on the benchmark's MLP steps the blocks beat them (threads.hpp has the numbers; steps on
// 2 cores, bench_mlp: Fashion-MNIST 1042–1081 µs against 1132–1263, the 784-1024-1024-10 step
// 27.5–28.6 ms against 30.3–31.3). Below 2^22 (the 64-128-64-10 step's 2^19-products) the blocks
// won alone but lost in the step, in 7 of 8 alternating runs by 10–31 µs of 80–100: the next op
// reads the rows the other core wrote, from that core's cache.
constexpr std::int64_t kSplitFrom = std::int64_t(1) << 22;
// Block boundaries fall on multiples of this many rows or columns (OpenBLAS's register tiles).
constexpr std::int64_t kBlockAlign = 16;

// OpenBLAS's thread count is one process-wide number, so running its products on one thread
// means setting it to 1 and back. Two engine threads doing that at once raced: one could read the
// other's temporary 1 as the user's setting (and never restore it), or start a product while the
// count was 1 — and a product's last bits depend on how it was cut (a test comparing threads'
// results with the serial one failed 8 times in 100 runs). The count is therefore read, changed
// and restored under this lock, and products run under it. With OpenBLAS set to 1 thread
// (OPENBLAS_NUM_THREADS=1, the setting for programs that run their own threads) nothing is
// toggled or cut and products run concurrently.
std::mutex blas_threads_mutex;

// C = op(A) op(B) + beta C, then + the row vector `bias` in every row when bias is not null (beta
// is then 0) and max(·, 0) when relu: linear's epilogue, applied by each block to its own part of
// C on the thread that computes it, while that part is in its cache. Cut into blocks over the
// engine's threads when it is large, whole on this thread otherwise; OpenBLAS's thread count is
// restored after the call.
//
// The bias used to go into C before the product (beta = 1, as PyTorch's addmm): the same bits for
// OpenBLAS's small kernels, which add C once at the end, but a copy pass and a kernel that reads C.
// Added after it, in the pass that applies the ReLU anyway, the 64-128-64-10 step took 0.95× the
// time (bench_mlp's shapes, the /tmp step driver of the twenty-third session, alternating pinned
// runs); and linear now rounds as matmul(x, Wᵀ) + b does for every size, where a product that
// OpenBLAS sums in k-blocks used to round the bias in with the first block.
template <class T>
void gemm_blocks(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda,
                 const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc, detail::GemmCut cut, const T* bias,
                 bool relu) {
    // Rows [r0, r1) and columns [c0, c1) of C: rows of op(A) and columns of op(B).
    auto block = [&](std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
        if (r0 >= r1 || c0 >= c1) return;
        T* cb = c + r0 * ldc + c0;
        gemm_call(ta, tb, r1 - r0, c1 - c0, k, ta ? a + r0 : a + r0 * lda, lda, tb ? b + c0 * ldb : b + c0, ldb,
                  bias != nullptr ? T(0) : beta, cb, ldc);
        if (bias != nullptr || relu) detail::bias_relu_rows(cb, ldc, bias != nullptr ? bias + c0 : nullptr, r1 - r0, c1 - c0, relu);
    };
    std::unique_lock<std::mutex> lock(blas_threads_mutex);
    const int threads = openblas_get_num_threads();
    if (threads <= 1) {
        lock.unlock();
        return block(0, m, 0, n);
    }
    openblas_set_num_threads(1);
    // The preferred cut when every thread gets a block of it, else the other, else whole; at most
    // one block per 2^21 multiply-adds (each block packs all of the other operand again).
    const bool large = m * n * k >= kSplitFrom;
    const int ways = static_cast<int>(std::min<std::int64_t>(threads, (m * n * k) >> 21));
    const bool rows_fit = large && m >= ways * kBlockAlign, cols_fit = large && n >= ways * kBlockAlign;
    const bool by_cols = cols_fit && (cut == detail::GemmCut::Columns || !rows_fit), by_rows = rows_fit && !by_cols;
    const int row_parts = by_rows ? detail::parts_for(m, ways, kBlockAlign) : 1;
    const int col_parts = by_cols ? detail::parts_for(n, ways, kBlockAlign) : 1;
    if (row_parts > 1) {
        detail::run_parts(row_parts, [&](int p) {
            const auto [r0, r1] = detail::part_range(m, row_parts, p, kBlockAlign);
            block(r0, r1, 0, n);
        });
    } else if (col_parts > 1) {
        detail::run_parts(col_parts, [&](int p) {
            const auto [c0, c1] = detail::part_range(n, col_parts, p, kBlockAlign);
            block(0, m, c0, c1);
        });
    } else {
        block(0, m, 0, n);
    }
    openblas_set_num_threads(threads);
}

// C = op(A)·op(B) (m × n, inner dimension k) into a new tensor: the 2-d matmul, also linear's
// first-order backward.
Tensor product(const BlasOperand& A, const BlasOperand& B, std::int64_t m, std::int64_t n, std::int64_t k, DType dt) {
    Tensor c = Tensor::empty(Shape{m, n}, dt);
    detail::dispatch(dt, [&]<class T>() {
        T* cp = c.data<T>();
        if (k == 0) {
            std::fill(cp, cp + m * n, T(0));
        } else if (m > 0 && n > 0) {
            detail::gemm(A.trans, B.trans, m, n, k, A.holder.data<T>(), A.ld, B.holder.data<T>(), B.ld, T(0), cp, n);
        }
    });
    return c;
}

// Batched product of operands with rank ≥ 2 (no graph).
Tensor matmul_forward(const Tensor& a, const Tensor& b) {
    const int na = a.dim(), nb = b.dim();
    const std::int64_t m = a.shape()[na - 2], k = a.shape()[na - 1], k2 = b.shape()[nb - 2], n = b.shape()[nb - 1];
    if (k != k2)
        throw ShapeError(fmt::format("matmul: shapes {} and {} do not match (inner dimensions {} vs {})", a.shape().str(),
                                     b.shape().str(), k, k2));
    if (na == 2 && nb == 2) return product(blas_operand(a), blas_operand(b), m, n, k, a.dtype());  // without the batch machinery's views
    Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
    Shape batch;
    try {
        batch = broadcast_shapes(ba, bb, "matmul");
    } catch (const ShapeError&) {
        throw ShapeError(fmt::format("matmul: batch dimensions of shapes {} and {} cannot be broadcast ({} vs {})",
                                     a.shape().str(), b.shape().str(), ba.str(), bb.str()));
    }
    Shape out = batch;
    out.push_back(m);
    out.push_back(n);
    Shape ea = batch, eb = batch;
    ea.push_back(m);
    ea.push_back(k);
    eb.push_back(k);
    eb.push_back(n);
    const Tensor av = expand(a.detach(), ea), bv = expand(b.detach(), eb);
    const BlasOperand A = blas_operand(av), B = blas_operand(bv);
    Tensor y = Tensor::empty(out, a.dtype());
    const std::int64_t nbatch = batch.numel();
    detail::dispatch(a.dtype(), [&]<class T>() {
        T* yp = y.data<T>();
        if (k == 0) {
            for (std::int64_t i = 0; i < y.numel(); ++i) yp[i] = T(0);
            return;
        }
        std::int64_t idx[Shape::kMaxDims] = {};
        const int nbd = batch.size();
        for (std::int64_t t = 0; t < nbatch; ++t) {
            std::int64_t oa = 0, ob = 0;
            for (int d = 0; d < nbd; ++d) {
                oa += idx[d] * A.holder.strides()[d];
                ob += idx[d] * B.holder.strides()[d];
            }
            if (m > 0 && n > 0)
                detail::gemm(A.trans, B.trans, m, n, k, A.holder.data<T>() + oa, A.ld, B.holder.data<T>() + ob, B.ld, T(0),
                        yp + t * m * n, n);
            for (int d = nbd - 1; d >= 0; --d) {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
    });
    return y;
}

Tensor mT(const Tensor& x) { return transpose(x, -2, -1); }

}  // namespace

void detail::gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                  const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc, GemmCut cut,
                  const float* bias, bool relu) {
    gemm_blocks(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, cut, bias, relu);
}
void detail::gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda,
                  const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc, GemmCut cut,
                  const double* bias, bool relu) {
    gemm_blocks(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, cut, bias, relu);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
    detail::check_same_dtype("matmul", a, b);
    if (a.dim() == 0 || b.dim() == 0)
        throw ShapeError(fmt::format("matmul: both operands need at least 1 dimension, got {} and {}", a.shape().str(),
                                     b.shape().str()));
    if (a.dim() == 1 && b.dim() == 1) {
        if (a.shape()[0] != b.shape()[0])
            throw ShapeError(fmt::format("matmul: shapes {} and {} do not match (inner dimensions {} vs {})",
                                         a.shape().str(), b.shape().str(), a.shape()[0], b.shape()[0]));
        return reshape(matmul(unsqueeze(a, 0), unsqueeze(b, 1)), Shape{});
    }
    if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
    if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
    Tensor y = matmul_forward(a, b);
    return detail::record("matmul", y, {a, b}, [sa = save(a), sb = save(b)](GradContext& g) {
        if (g.needs(0)) g.add(0, detail::sum_to(matmul(g.out(), mT(sb.get())), g.input_shape(0)));
        if (g.needs(1)) g.add(1, detail::sum_to(matmul(mT(sa.get()), g.out()), g.input_shape(1)));
    });
}

Tensor outer(const Tensor& u, const Tensor& v) {
    if (u.dim() != 1 || v.dim() != 1)
        throw ShapeError(fmt::format("outer: needs two 1-d tensors, got {} and {}", u.shape().str(), v.shape().str()));
    return matmul(unsqueeze(u, 1), unsqueeze(v, 0));
}

namespace {
// x Wᵀ + b, or relu(x Wᵀ + b), unrecorded: one GEMM whose epilogue adds the bias and applies the
// ReLU (`op` names the caller in errors).
Tensor linear_value(const char* op, const Tensor& x, const Tensor& W, const Tensor& b, bool relu) {
    detail::check_same_dtype(op, x, W);
    if (x.dim() != 2 || W.dim() != 2 || x.shape()[1] != W.shape()[1])
        throw ShapeError(fmt::format("{}: input {} does not fit weight {} (expected input [batch, {}])", op, x.shape().str(),
                                     W.shape().str(), W.dim() == 2 ? W.shape()[1] : -1));
    if (b.defined() && !(b.shape() == Shape{W.shape()[0]}))
        throw ShapeError(fmt::format("{}: bias of shape {} does not fit weight {} (expected [{}])", op, b.shape().str(),
                                     W.shape().str(), W.shape()[0]));
    const std::int64_t batch = x.shape()[0], in = x.shape()[1], out = W.shape()[0];
    Tensor y = Tensor::empty(Shape{batch, out}, x.dtype());
    const BlasOperand X = blas_operand(x), Wt = blas_operand(W, true);
    detail::dispatch(x.dtype(), [&]<class T>() {
        T* yp = y.data<T>();
        const Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
        const T* bp = b.defined() ? bc.data<T>() : nullptr;
        if (in == 0) {  // no product: the bias alone, or zeros
            std::fill(yp, yp + batch * out, T(0));
            detail::bias_relu_rows(yp, out, bp, batch, out, relu);
        } else if (batch > 0 && out > 0) {
            detail::gemm(X.trans, Wt.trans, batch, out, in, X.holder.data<T>(), X.ld, Wt.holder.data<T>(), Wt.ld, T(0), yp, out,
                         detail::GemmCut::Columns, bp, relu);
        }
    });
    return y;
}

// linear's gradients from G, the gradient of its output: ∂x = G W, ∂W = Gᵀ x, ∂b = Σ_batch G
// (given as db when the caller has it). First order, the products go straight to BLAS, as
// matmul would send them (the same bits, without its views and checks).
void linear_backward(GradContext& g, const Tensor& G, const Tensor& x, const Tensor& W, Tensor db = Tensor()) {
    if (g.create_graph() || G.dtype() != W.dtype()) {  // recorded: differentiable again (or matmul's dtype error)
        if (g.needs(0)) g.add(0, matmul(G, W));
        if (g.needs(1)) g.add(1, matmul(mT(G), x));
    } else {
        const std::int64_t batch = G.shape()[0], out = G.shape()[1], in = W.shape()[1];
        if (g.needs(0)) g.add(0, product(blas_operand(G), blas_operand(W), batch, in, out, G.dtype()));
        if (g.needs(1)) g.add(1, product(blas_operand(G, true), blas_operand(x), out, in, batch, G.dtype()));
    }
    if (g.needs(2)) g.add(2, db.defined() ? std::move(db) : sum(G, 0));
}
}  // namespace

Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b) {
    Tensor y = linear_value("linear", x, W, b, false);
    return detail::record("linear", y, {x, W, b}, [sx = save(x), sw = save(W)](GradContext& g) {
        linear_backward(g, g.out(), sx.get(), sw.get());
    });
}

Tensor linear_relu(const Tensor& x, const Tensor& W, const Tensor& b) {
    Tensor y = linear_value("linear_relu", x, W, b, true);
    return detail::record("linear_relu", y, {x, W, b}, [sx = save(x), sw = save(W), sy = save(y)](GradContext& g) {
        const Tensor& go = g.out();
        const Tensor yv = sy.get();
        if (g.create_graph()) {  // recorded: differentiable again
            linear_backward(g, go * detail::mask_not_le(yv, 0.0), sx.get(), sw.get());
            return;
        }
        // One pass: G masked where y <= 0 (in place: the gradient is this backward's to overwrite),
        // and its column sums (∂b) on the way.
        Tensor G = g.writable_out(yv.dtype());
        Tensor db;
        detail::dispatch(yv.dtype(), [&]<class T>() {
            const std::int64_t rows = yv.shape()[0], cols = yv.shape()[1];
            thread_local std::vector<double> acc;
            acc.assign(static_cast<std::size_t>(cols), 0.0);
            detail::relu_backward_rows(G.data<T>(), yv.data<T>(), rows, cols, acc.data());
            if (g.needs(2)) {
                db = Tensor::empty(Shape{cols}, yv.dtype());
                T* q = db.data<T>();
                for (std::int64_t c = 0; c < cols; ++c) q[c] = static_cast<T>(acc[static_cast<std::size_t>(c)]);
            }
        });
        linear_backward(g, G, sx.get(), sw.get(), std::move(db));
    });
}

}  // namespace ad
