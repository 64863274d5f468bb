#pragma once
// nn::Sequential — modules applied in order, named "0", "1", ... (so parameters are "0.weight",
// "2.bias", exactly as in a torch.nn.Sequential and its state_dict) — and the MLP builder.
//
//     auto model = nn::MLP({784, 256, 128, 10});   // Linear-ReLU-Linear-ReLU-Linear
//     fmt::print("{}\n", *model);                   // PyTorch-style repr
//     model->parameter_count();                     // 235146
//
// MLP({n_0, ..., n_L}) is the notes' network: layer l is z^l = W^l a^{l-1} + b^l with
// W^l [n_l, n_{l-1}], followed by the activation on every hidden layer and none on the output
// (the output head — softmax, sigmoid — lives in the loss, as PyTorch users expect).
#include <nn/activation.hpp>
#include <nn/init.hpp>
#include <nn/linear.hpp>

#include <initializer_list>

namespace ad::nn {

class Sequential : public Module {
public:
    Sequential() = default;
    Sequential(std::initializer_list<std::shared_ptr<Module>> modules);

    Sequential& add(std::shared_ptr<Module> m);  // appended under the next index
    // Each module in turn; a Linear followed by a ReLU runs as one linear_relu node on a batch
    // (ops/linalg.hpp: the same numbers and gradients as the two modules, one node and pass fewer).
    Tensor forward(const Tensor& x) override;
    std::string name() const override { return "Sequential"; }
    std::size_t size() const { return children().size(); }
    Module& operator[](std::size_t i) const;  // ValueError when out of range
    template <class M>
    M& at(std::size_t i) const {  // the i-th module as a concrete type; ValueError if it is not one
        auto* m = dynamic_cast<M*>(&(*this)[i]);
        if (m == nullptr) throw ValueError(fmt::format("Sequential::at({}): module is {}", i, (*this)[i].name()));
        return *m;
    }
};

// How an MLP's weights start. Biases start at zero for the Xavier/Kaiming schemes (the usual
// practice) and as PyTorch's default U(−1/√in, 1/√in) for PyTorchDefault.
enum class Init { PyTorchDefault, XavierUniform, XavierNormal, KaimingUniform, KaimingNormal };

struct MLPOptions {
    DType dtype = DType::F32;
    std::uint64_t seed = 0;
    bool bias = true;
    Init init = Init::PyTorchDefault;
    double dropout = 0.0;  // > 0: a Dropout after every hidden activation
};

// sizes = {inputs, hidden..., outputs} (at least two entries, all positive; ValueError otherwise).
std::shared_ptr<Sequential> MLP(const std::vector<std::int64_t>& sizes, Activation activation = Activation::ReLU,
                                MLPOptions opts = {});

}  // namespace ad::nn
