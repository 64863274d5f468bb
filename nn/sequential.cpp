#include <nn/dropout.hpp>
#include <nn/sequential.hpp>

#include <typeinfo>

namespace ad::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
    for (const auto& m : modules) add(m);
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
    if (!m) throw ValueError(fmt::format("Sequential::add: null module at index {}", size()));
    register_module(std::to_string(size()), std::move(m));
    return *this;
}

Tensor Sequential::forward(const Tensor& x) {
    Tensor h = x;
    const auto& c = children();
    for (std::size_t i = 0; i < c.size(); ++i) {
        // A Linear followed by a ReLU, on a batch of its dtype: one node (linalg.hpp's linear_relu), the
        // same numbers; anything else (a 1-d input, a subclass, a mismatch to report) module by module.
        if (i + 1 < c.size() && h.dim() == 2 && typeid(*c[i].second) == typeid(Linear) &&
            typeid(*c[i + 1].second) == typeid(ReLU)) {
            const auto& lin = static_cast<const Linear&>(*c[i].second);
            if (h.shape()[1] == lin.in_features && h.dtype() == lin.weight.dtype()) {
                h = linear_relu(h, lin.weight, lin.bias);
                ++i;
                continue;
            }
        }
        h = c[i].second->forward(h);
    }
    return h;
}

Module& Sequential::operator[](std::size_t i) const {
    if (i >= size()) throw ValueError(fmt::format("Sequential: index {} out of range for {} modules", i, size()));
    return *children()[i].second;
}

std::shared_ptr<Sequential> MLP(const std::vector<std::int64_t>& sizes, Activation activation, MLPOptions o) {
    if (sizes.size() < 2) throw ValueError(fmt::format("MLP: need at least input and output sizes, got {} sizes", sizes.size()));
    for (std::int64_t s : sizes)
        if (s <= 0) throw ValueError(fmt::format("MLP: layer sizes must be positive, got {}", fmt::join(sizes, "-")));
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) throw ValueError(fmt::format("MLP: dropout must be in [0, 1), got {}", o.dropout));
    auto net = std::make_shared<Sequential>();
    const std::size_t layers = sizes.size() - 1;
    for (std::size_t l = 0; l < layers; ++l) {
        const std::uint64_t seed = o.seed * 1000003 + l;  // distinct, reproducible per layer
        auto lin = std::make_shared<Linear>(sizes[l], sizes[l + 1], LinearOptions{.bias = o.bias, .dtype = o.dtype, .seed = seed});
        const bool hidden = l + 1 < layers;
        // The gain of the nonlinearity that follows (none after the output layer).
        const double gain = hidden ? init::calculate_gain(activation) : init::linear_gain();
        switch (o.init) {
            case Init::PyTorchDefault: break;
            case Init::XavierUniform: init::xavier_uniform_(lin->weight, gain, seed); break;
            case Init::XavierNormal: init::xavier_normal_(lin->weight, gain, seed); break;
            case Init::KaimingUniform: init::kaiming_uniform_(lin->weight, gain, init::FanMode::FanIn, seed); break;
            case Init::KaimingNormal: init::kaiming_normal_(lin->weight, gain, init::FanMode::FanIn, seed); break;
        }
        if (o.init != Init::PyTorchDefault && o.bias) init::zeros_(lin->bias);
        net->add(lin);
        if (hidden) {
            net->add(make_activation(activation));
            if (o.dropout > 0) net->add(std::make_shared<Dropout>(o.dropout, seed));
        }
    }
    return net;
}

}  // namespace ad::nn
