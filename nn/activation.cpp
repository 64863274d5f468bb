#include <nn/activation.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace ad::nn {

namespace {
constexpr Activation kAll[] = {Activation::ReLU, Activation::LeakyReLU, Activation::Sigmoid, Activation::Tanh,
                               Activation::GELU};
}

const char* activation_name(Activation a) {
    switch (a) {
        case Activation::ReLU: return "ReLU";
        case Activation::LeakyReLU: return "LeakyReLU";
        case Activation::Sigmoid: return "Sigmoid";
        case Activation::Tanh: return "Tanh";
        case Activation::GELU: return "GELU";
    }
    return "?";
}

Activation parse_activation(std::string_view name) {
    auto lower = [](std::string_view s) {
        std::string r(s);
        std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return r;
    };
    for (Activation a : kAll)
        if (lower(activation_name(a)) == lower(name)) return a;
    throw ValueError(fmt::format("parse_activation: unknown activation '{}' (expected relu, leakyrelu, sigmoid, tanh or gelu)",
                                 name));
}

std::shared_ptr<Module> make_activation(Activation a) {
    switch (a) {
        case Activation::ReLU: return std::make_shared<ReLU>();
        case Activation::LeakyReLU: return std::make_shared<LeakyReLU>();
        case Activation::Sigmoid: return std::make_shared<Sigmoid>();
        case Activation::Tanh: return std::make_shared<Tanh>();
        case Activation::GELU: return std::make_shared<GELU>();
    }
    throw ValueError("make_activation: unknown activation");
}

std::string python_float(double v) {
    // fmt's shortest round-trip form already switches to exponents where Python does (exponent
    // below −4 or from 16 on); Python adds ".0" to integral values written without an exponent.
    std::string s = fmt::format("{}", v);
    if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

std::string LeakyReLU::name() const { return fmt::format("LeakyReLU(negative_slope={})", python_float(negative_slope)); }
std::string Softmax::name() const { return fmt::format("Softmax(dim={})", dim); }
std::string LogSoftmax::name() const { return fmt::format("LogSoftmax(dim={})", dim); }

}  // namespace ad::nn
