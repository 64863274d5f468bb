#pragma once
// Custom differentiable ops with your own forward and backward, like torch.autograd.Function.
//
//     ad::Tensor y = ad::custom_op("my_square", {x},
//         [](const std::vector<ad::Tensor>& in) { return in[0] * in[0]; },            // forward
//         [](ad::CustomContext& ctx, const ad::Tensor& g) -> std::vector<ad::Tensor> {  // backward
//             return {g * 2.0 * ctx.input(0)};
//         });
//
// Guarantees and rules:
//   * forward runs with recording off: whatever it computes is a constant of the graph. The op is
//     recorded as ONE tape entry whose inputs are the listed tensors.
//   * backward receives the gradient g of the output (shaped like the output) and returns one
//     gradient per input, shaped like that input, or an undefined Tensor() for "no gradient".
//     A wrong count or shape throws ad::GraphError / ad::ShapeError naming the op. The engine does
//     not (cannot) check the formula: run ad::gradcheck on a new op (a wrong backward fails it).
//   * backward is written with Tensor ops. Under backward(create_graph=true) it runs recorded, and
//     ctx.input(k) / ctx.output() are the op's own inputs and output in the graph, so a backward
//     that is differentiable in those gives correct second derivatives (gradgradcheck). Tensors
//     computed inside forward and kept with ctx.save_for_backward are constants for the second
//     derivative, as in PyTorch: recompute them from ctx.input(k) in backward if they matter.
//   * everything backward needs lives in the context (no interior Tensor handle is captured), so
//     the graph is released normally; modifying a saved input in place before backward makes
//     ctx.input() throw ad::GraphError instead of returning a wrong gradient.
//
// A scalar version builds a differentiable function of ad::Values from a double forward and a
// Value backward (it rides on the tensor machinery: a few bridge entries per call).
#include <autodiff/error.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_node.hpp>
#include <autodiff/value.hpp>

#include <fmt/format.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ad {

class CustomContext;
using CustomForward = std::function<Tensor(const std::vector<Tensor>& inputs)>;
using CustomForwardWithContext = std::function<Tensor(CustomContext& ctx, const std::vector<Tensor>& inputs)>;
using CustomBackward = std::function<std::vector<Tensor>(CustomContext& ctx, const Tensor& grad_output)>;

// What forward may save and backward reads back (the `ctx` of torch.autograd.Function).
class CustomContext {
public:
    const char* name() const { return name_; }
    std::size_t num_inputs() const { return inputs_.size(); }
    // Input k as recorded (in backward under create_graph: a handle in the graph).
    Tensor input(std::size_t k) const { return inputs_[check(k, inputs_.size(), "input")].get(); }
    const Shape& input_shape(std::size_t k) const { return shapes_[check(k, shapes_.size(), "input_shape")]; }
    // Whether input k requires a gradient (backward may skip the others: return Tensor()).
    bool needs_input_grad(std::size_t k) const { return needs_[check(k, needs_.size(), "needs_input_grad")]; }
    // The op's output (valid in backward).
    Tensor output() const { return output_.get(); }
    // Forward only: keep a tensor for backward; saved(i) returns the i-th one.
    void save_for_backward(const Tensor& t) { saved_.push_back(detail::save(t)); }
    Tensor saved(std::size_t i) const { return saved_[check(i, saved_.size(), "saved")].get(); }
    std::size_t num_saved() const { return saved_.size(); }
    // In backward: whether the backward pass is being recorded (create_graph).
    bool create_graph() const { return create_graph_; }

private:
    std::size_t check(std::size_t k, std::size_t n, const char* what) const {
        if (k >= n) throw ValueError(fmt::format("custom_op '{}': ctx.{}({}) but there are only {}", name_, what, k, n));
        return k;
    }
    friend Tensor custom_op(std::string_view, std::initializer_list<Tensor>, CustomForwardWithContext, CustomBackward);
    const char* name_ = "custom";
    std::vector<detail::SavedTensor> inputs_;
    std::vector<Shape> shapes_;
    std::vector<bool> needs_;
    std::vector<detail::SavedTensor> saved_;
    detail::SavedTensor output_;
    CustomBackward backward_;
    bool create_graph_ = false;
};

namespace detail {
// Op names live as long as the program (tape nodes keep a const char*); each distinct name is
// stored once.
inline const char* intern_op_name(std::string_view name) {
    static std::mutex m;
    static std::set<std::string, std::less<>> names;
    std::lock_guard lock(m);
    auto it = names.find(name);
    if (it == names.end()) it = names.emplace(name).first;
    return it->c_str();
}
}  // namespace detail

// A custom tensor op whose forward may save tensors for backward in ctx.
inline Tensor custom_op(std::string_view name, std::initializer_list<Tensor> inputs, CustomForwardWithContext forward,
                        CustomBackward backward) {
    if (!forward || !backward) throw ValueError(fmt::format("custom_op '{}': forward and backward must be set", name));
    auto ctx = std::make_shared<CustomContext>();
    ctx->name_ = detail::intern_op_name(name);
    std::vector<Tensor> in(inputs);
    for (std::size_t k = 0; k < in.size(); ++k) {
        if (!in[k].defined()) throw ValueError(fmt::format("custom_op '{}': input {} is an undefined tensor", name, k));
        ctx->inputs_.push_back(detail::save(in[k]));
        ctx->shapes_.push_back(in[k].shape());
        ctx->needs_.push_back(in[k].requires_grad() && is_recording());
    }
    ctx->backward_ = std::move(backward);
    Tensor y;
    {
        NoGrad ng;
        y = forward(*ctx, in);
    }
    if (!y.defined()) throw ValueError(fmt::format("custom_op '{}': forward returned an undefined tensor", name));
    Tensor out = detail::record(ctx->name_, y, inputs, [ctx](detail::GradContext& g) {
        ctx->create_graph_ = g.create_graph();
        std::vector<Tensor> grads = ctx->backward_(*ctx, g.out());
        if (grads.size() != ctx->num_inputs())
            throw GraphError(fmt::format("custom_op '{}': backward returned {} gradients for {} inputs", ctx->name_,
                                         grads.size(), ctx->num_inputs()));
        for (std::size_t k = 0; k < grads.size(); ++k) {
            if (!grads[k].defined() || !g.needs(k)) continue;
            if (!(grads[k].shape() == ctx->shapes_[k]))
                throw ShapeError(fmt::format("custom_op '{}': backward returned a gradient of shape {} for input {} of shape {}",
                                             ctx->name_, grads[k].shape().str(), k, ctx->shapes_[k].str()));
            g.add(k, grads[k]);
        }
    });
    ctx->output_ = detail::save(out);
    return out;
}

// The same when forward needs no context.
inline Tensor custom_op(std::string_view name, std::initializer_list<Tensor> inputs, CustomForward forward,
                        CustomBackward backward) {
    if (!forward) throw ValueError(fmt::format("custom_op '{}': forward must be set", name));
    return custom_op(
        name, inputs,
        CustomForwardWithContext([f = std::move(forward)](CustomContext&, const std::vector<Tensor>& in) { return f(in); }),
        std::move(backward));
}

// ---------------------------------------------------------------------------------------------
// Scalar custom ops: forward on numbers, backward on Values.
//
//     auto softclip = [](const ad::Value& x) {
//         return ad::custom_op("softclip", {x},
//             [](const std::vector<double>& v) { return std::tanh(v[0]); },
//             [](const std::vector<ad::Value>& in, const ad::Value& y, const ad::Value& g) {
//                 return std::vector<ad::Value>{g * (1.0 - y * y)};
//             });
//     };
using ScalarCustomForward = std::function<double(const std::vector<double>& inputs)>;
// Given the inputs, the output and the gradient g of the output: g·∂output/∂input_k for each k.
using ScalarCustomBackward =
    std::function<std::vector<Value>(const std::vector<Value>& inputs, const Value& output, const Value& g)>;

inline Value custom_op(std::string_view name, std::initializer_list<Value> inputs, ScalarCustomForward forward,
                       ScalarCustomBackward backward) {
    if (!forward || !backward) throw ValueError(fmt::format("custom_op '{}': forward and backward must be set", name));
    std::vector<double> x;
    bool tracks = false;
    for (const Value& v : inputs) {
        x.push_back(v.value());
        tracks = tracks || v.tracks();
    }
    const double y = forward(x);
    if (!tracks || inputs.size() == 0) return Value::constant(y);
    // The inputs enter as one float64 vector; the op is a tensor custom op on it.
    std::vector<Tensor> parts;
    for (const Value& v : inputs) parts.push_back(tensor_from_value(v, DType::F64));
    const Tensor packed = stack(parts);
    const std::int64_t n = static_cast<std::int64_t>(inputs.size());
    const Tensor out = custom_op(
        name, {packed}, [y](const std::vector<Tensor>&) { return Tensor::scalar(y, DType::F64); },
        [n, bwd = std::move(backward)](CustomContext& ctx, const Tensor& g) -> std::vector<Tensor> {
            const Tensor xs = ctx.input(0);
            std::vector<Value> in;
            for (std::int64_t k = 0; k < n; ++k) in.push_back(item_value(reshape(narrow(xs, 0, k, 1), Shape{})));
            const std::vector<Value> grads = bwd(in, item_value(ctx.output()), item_value(g));
            if (static_cast<std::int64_t>(grads.size()) != n)
                throw GraphError(fmt::format("custom_op '{}': backward returned {} gradients for {} inputs", ctx.name(),
                                             grads.size(), n));
            std::vector<Tensor> gs;
            for (const Value& gk : grads) gs.push_back(tensor_from_value(gk, DType::F64));
            return {stack(gs)};
        });
    return item_value(out);
}

}  // namespace ad
