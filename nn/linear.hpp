#pragma once
// nn::Linear — the dense layer of the notes: z = W a + b.
//
// Storage follows PyTorch (and the notes' column-vector convention, section 1):
//   weight: [out_features, in_features]  — the notes' W^l, n_l × n_{l-1}
//   bias:   [out_features]               — the notes' b^l
// A batch is stored one sample per row, x: [batch, in_features], so forward computes
// Z = X Wᵀ + b, whose row i is (W^l a_i + b^l)ᵀ — the notes' formula for every sample at once.
// Default initialisation is PyTorch's: weight and bias ~ U(−1/√in, 1/√in) (kaiming_uniform with
// a = √5), seeded. The note 001 row layout (n_{l-1} × n_l) is weight.t().
#include <nn/module.hpp>

namespace ad::nn {

struct LinearOptions {
    bool bias = true;
    DType dtype = DType::F32;
    std::uint64_t seed = 0;  // initialisation seed
};

class Linear : public Module {
public:
    Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions opts = {});
    Linear(std::int64_t in_features, std::int64_t out_features, bool bias)
        : Linear(in_features, out_features, LinearOptions{.bias = bias}) {}
    Tensor forward(const Tensor& x) override;  // x: [batch, in] (or [in]) → [batch, out] (or [out])
    std::string name() const override;

    std::int64_t in_features, out_features;
    Tensor weight;  // [out, in]
    Tensor bias;    // [out], undefined without bias
};

}  // namespace ad::nn
