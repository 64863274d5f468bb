#pragma once
// Activations as modules, so they can sit in a Sequential (as torch.nn.ReLU etc.). The functions
// themselves are the engine's ops: ad::relu, ad::leaky_relu, ad::sigmoid, ad::tanh, ad::gelu,
// ad::softmax, ad::log_softmax (each gradient-checked to second order in tests/test_tensor_ops).
//
//     auto net = std::make_shared<Sequential>();
//     net->add(std::make_shared<Linear>(2, 16));
//     net->add(std::make_shared<Tanh>());   // prints as "(1): Tanh()"
#include <nn/module.hpp>

namespace ad::nn {

// The hidden activations an MLP can be built with (see sequential.hpp).
enum class Activation { ReLU, LeakyReLU, Sigmoid, Tanh, GELU };
const char* activation_name(Activation a);             // "ReLU", "LeakyReLU", ...
Activation parse_activation(std::string_view name);     // case-insensitive; ValueError if unknown
std::shared_ptr<Module> make_activation(Activation a);  // a new module of that kind

// A double as Python's repr() writes it ("0.5", "1.0", "1e-05", "1e+16"), so module reprs read
// exactly like PyTorch's (fmt's "{}" would write 1.0 as "1").
std::string python_float(double v);

// A module without parameters that applies one function elementwise (or along an axis).
class ReLU : public Module {
public:
    Tensor forward(const Tensor& x) override { return relu(x); }
    std::string name() const override { return "ReLU()"; }
};
class LeakyReLU : public Module {
public:
    explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
    Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
    std::string name() const override;
    double negative_slope;
};
class Sigmoid : public Module {
public:
    Tensor forward(const Tensor& x) override { return sigmoid(x); }
    std::string name() const override { return "Sigmoid()"; }
};
class Tanh : public Module {
public:
    Tensor forward(const Tensor& x) override { return tanh(x); }
    std::string name() const override { return "Tanh()"; }
};
class GELU : public Module {  // the exact (erf) form, PyTorch's default approximate='none'
public:
    Tensor forward(const Tensor& x) override { return gelu(x); }
    std::string name() const override { return "GELU(approximate='none')"; }
};
class Softmax : public Module {
public:
    explicit Softmax(std::int64_t dim = -1) : dim(dim) {}
    Tensor forward(const Tensor& x) override { return softmax(x, dim); }
    std::string name() const override;
    std::int64_t dim;
};
class LogSoftmax : public Module {
public:
    explicit LogSoftmax(std::int64_t dim = -1) : dim(dim) {}
    Tensor forward(const Tensor& x) override { return log_softmax(x, dim); }
    std::string name() const override;
    std::int64_t dim;
};

}  // namespace ad::nn
