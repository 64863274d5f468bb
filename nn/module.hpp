#pragma once
// ad::nn::Module — the base of every layer and model, as in PyTorch.
//
// A module owns named parameters (leaf tensors that require grad) and named child modules.
// named_parameters() walks the tree without recursion limits worth worrying about (models are
// shallow) and names parameters like PyTorch's state_dict: "0.weight", "layers.2.bias", so a
// checkpoint maps one-to-one onto an equivalent PyTorch model.
//
//     struct Net : ad::nn::Module {
//         std::shared_ptr<Linear> fc1, fc2;
//         Net() : fc1(register_module("fc1", std::make_shared<Linear>(784, 128))),
//                 fc2(register_module("fc2", std::make_shared<Linear>(128, 10))) {}
//         ad::Tensor forward(const ad::Tensor& x) override { return fc2->forward(ad::relu(fc1->forward(x))); }
//     };
#include <autodiff/autodiff.hpp>

#include <fmt/format.h>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ad::nn {

class Module {
public:
    virtual ~Module() = default;
    Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // The computation: maps a batch [batch, features...] to outputs.
    virtual Tensor forward(const Tensor& x) = 0;
    Tensor operator()(const Tensor& x) { return forward(x); }

    // Parameters of this module and all children, in registration order, with dotted names.
    std::vector<std::pair<std::string, Tensor>> named_parameters() const;
    std::vector<Tensor> parameters() const;
    // Non-trainable state saved in checkpoints (e.g. running statistics); none by default.
    std::vector<std::pair<std::string, Tensor>> named_buffers() const;
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
    std::int64_t parameter_count() const;

    void zero_grad();                    // drops every parameter's gradient
    virtual void train(bool on = true);  // recursive; Dropout is active only in training mode
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // PyTorch-style repr, e.g.
    //   Sequential(
    //     (0): Linear(in_features=784, out_features=256, bias=True)
    //     (1): ReLU()
    //   )
    std::string repr() const;
    // The one-line description of this module alone (without children), e.g. "Linear(in_features=...)".
    virtual std::string name() const = 0;

protected:
    Tensor& register_parameter(std::string name, Tensor t);
    Tensor& register_buffer(std::string name, Tensor t);
    template <class M>
    std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> m) {
        children_.emplace_back(std::move(name), m);
        return m;
    }

private:
    std::vector<std::pair<std::string, Tensor>> params_;
    std::vector<std::pair<std::string, Tensor>> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

}  // namespace ad::nn

// fmt::print("{}", model) for any module type (Sequential, Linear, user modules).
template <class M>
struct fmt::formatter<M, char, std::enable_if_t<std::is_base_of_v<ad::nn::Module, M>>> : fmt::formatter<std::string_view> {
    auto format(const M& m, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(m.repr(), ctx);
    }
};
