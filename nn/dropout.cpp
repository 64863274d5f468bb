#include <autodiff/kernels.hpp>
#include <nn/activation.hpp>
#include <nn/dropout.hpp>

#include <cmath>

namespace ad::nn {

Dropout::Dropout(double p_, std::uint64_t seed) : p(p_), rng_(seed) {
    if (!(p >= 0.0 && p <= 1.0)) throw ValueError(fmt::format("Dropout: p must be in [0, 1], got {}", p));
}

Tensor Dropout::forward(const Tensor& x) {
    if (!is_training() || p == 0.0) return x;
    // The mask is a constant of the graph: x · mask has ∂x = mask, scaled like the forward.
    const double keep_scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
    Tensor mask = Tensor::empty(x.shape(), x.dtype());
    detail::dispatch(x.dtype(), [&]<class T>() {
        T* m = mask.data<T>();
        for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = rng_.uniform() < p ? T(0) : static_cast<T>(keep_scale);
    });
    return x * mask;
}

std::string Dropout::name() const { return fmt::format("Dropout(p={}, inplace=False)", python_float(p)); }

}  // namespace ad::nn
