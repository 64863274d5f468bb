#pragma once
// nn::Dropout — in training mode zeroes each element with probability p and scales the others by
// 1/(1 − p) (inverted dropout, as torch.nn.Dropout), so evaluation is the identity. The masks come
// from the module's own generator, seeded: the same seed gives the same masks on every machine.
//
//     Dropout drop(0.2, /*seed=*/7);
//     drop.train();  auto y = drop(x);   // ~20% zeros, the rest × 1.25
//     drop.eval();   auto z = drop(x);   // z is x
#include <autodiff/random.hpp>
#include <nn/module.hpp>

namespace ad::nn {

class Dropout : public Module {
public:
    explicit Dropout(double p = 0.5, std::uint64_t seed = 0);  // ValueError unless 0 ≤ p ≤ 1
    Tensor forward(const Tensor& x) override;                   // ∂ = mask / (1 − p)
    std::string name() const override;
    double p;

private:
    Rng rng_;
};

}  // namespace ad::nn
