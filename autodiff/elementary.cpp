// The vectorized loop of detail::exp (elementary.hpp), one clone per instruction set.
#include <autodiff/elementary.hpp>

namespace ad::detail {

AD_MULTIVERSION void exp_inplace(double* v, std::int64_t n) noexcept {
    for (std::int64_t i = 0; i < n; ++i) v[i] = exp(v[i]);
}

}  // namespace ad::detail
