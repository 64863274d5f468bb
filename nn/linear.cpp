#include <nn/linear.hpp>

#include <cmath>

namespace ad::nn {

Linear::Linear(std::int64_t in, std::int64_t out, LinearOptions o) : in_features(in), out_features(out) {
    if (in <= 0 || out <= 0) throw ValueError(fmt::format("Linear: sizes must be positive, got in={} out={}", in, out));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // PyTorch's default for both
    weight = register_parameter("weight", Tensor::uniform(Shape{out, in}, -bound, bound, o.dtype, o.seed * 2 + 1));
    if (o.bias) bias = register_parameter("bias", Tensor::uniform(Shape{out}, -bound, bound, o.dtype, o.seed * 2 + 2));
}

Tensor Linear::forward(const Tensor& x) {
    if (x.dim() == 1) return squeeze(linear(unsqueeze(x, 0), weight, bias), 0);
    if (x.dim() != 2 || x.shape()[1] != in_features)
        throw ShapeError(fmt::format("Linear(in_features={}): input of shape {} (expected [batch, {}])", in_features,
                                     x.shape().str(), in_features));
    return linear(x, weight, bias);
}

std::string Linear::name() const {
    return fmt::format("Linear(in_features={}, out_features={}, bias={})", in_features, out_features,
                       bias.defined() ? "True" : "False");
}

}  // namespace ad::nn
