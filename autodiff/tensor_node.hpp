#pragma once
// How a tensor op records itself: a TensorNode on the tape, with its backward as a closure.
//
// The pattern every op follows (forward, what it saves, backward, side by side):
//
//     Tensor exp(const Tensor& x) {
//         Tensor y = map(x, [](auto v) { return std::exp(v); });       // forward, no graph
//         return record("exp", y, {x}, [sy = save(y)](GradContext& g) {  // d exp(x) = exp(x) dx
//             g.add(0, g.out() * sy.get());
//         });
//     }
//
// Backward closures are written with Tensor ops. In the plain sweep they run with recording off
// (fast, numeric); under create_graph they run recorded, which gives every op its second (and
// higher) derivatives without a second implementation.
//
// A closure must never capture a Tensor handle of an interior value (that would keep the graph
// alive forever): capture SavedTensor (save(t)), shapes, numbers. The result passed to record()
// must be a tensor the op just created (saving it, as exp does, is fine: it becomes the
// recorded output).
#include <autodiff/pool_function.hpp>
#include <autodiff/tensor.hpp>

#include <functional>
#include <initializer_list>

namespace ad::detail {

// A tensor saved for backward: the data plus its identity in the graph, without keeping the
// graph alive. get() checks that nobody modified it in place since it was saved.
class SavedTensor {
public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& t)
        : impl_(t.defined() ? t.impl_ptr() : nullptr), version_(t.defined() ? t.impl()->storage->version : 0) {}
    Tensor get() const;  // GraphError if modified in place since saved, or its graph was released
    bool defined() const { return impl_ != nullptr; }

private:
    std::shared_ptr<TensorImpl> impl_;  // shared state only: does not keep the graph alive
    std::uint32_t version_ = 0;
};
inline SavedTensor save(const Tensor& t) { return SavedTensor(t); }

class GradContext;
using BackwardFn = PoolFunction<void(GradContext&)>;

// One recorded tensor op (or a tensor leaf registered in this graph).
struct TensorNode {
    const char* name = "?";
    std::uint32_t entry = kNoNode;      // this node's tape entry
    std::vector<std::uint32_t> inputs;  // tape entries of the inputs (tensor or scalar entries)
    std::vector<Shape> input_shapes;
    std::vector<DType> input_dtypes;
    std::vector<bool> input_needs;      // which inputs require grad
    Shape shape;                        // of the output
    DType dtype = DType::F32;
    BackwardFn backward;                // empty for leaves, and after release
    std::shared_ptr<TensorImpl> leaf;   // set for leaf entries
    Tensor grad;                        // adjoint accumulated during a sweep
    std::vector<std::function<Tensor(const Tensor&)>> hooks;  // interior tensors' hooks
    bool released = false;
    // Back to a blank node (what a recycled node looks like), keeping vector capacity.
    void reset() {
        name = "?";
        entry = kNoNode;
        inputs.clear();
        input_shapes.clear();
        input_dtypes.clear();
        input_needs.clear();
        shape = Shape{};
        backward = nullptr;
        leaf.reset();
        grad = Tensor();
        hooks.clear();
        released = false;
    }
};

// What a backward closure sees: the gradient of the op's output, and where to send the gradient
// of each input. add() checks the shape (a wrong shape is an engine bug, reported as GraphError).
// `sink(k, g)` receives each input's gradient; the context refers to it without owning or copying
// it (no std::function per node), so it must outlive the context.
class GradContext {
public:
    template <class Sink>
    GradContext(const TensorNode& node, const Tensor& out, bool create_graph, Sink& sink)
        : node_(node), out_(out), create_graph_(create_graph), sink_obj_(&sink),
          sink_([](void* s, std::size_t k, Tensor&& g) { (*static_cast<Sink*>(s))(k, std::move(g)); }) {}
    const Tensor& out() const { return out_; }
    // out() as a contiguous tensor of dtype dt that the backward may overwrite: the gradient's own
    // buffer when nothing else refers to it (no other handle, view, hook or retained gradient, the
    // test PyTorch's AccumulateGrad makes before it steals a gradient), else a copy.
    Tensor writable_out(DType dt) const;
    bool needs(std::size_t k) const { return node_.input_needs[k]; }
    bool create_graph() const { return create_graph_; }
    const Shape& input_shape(std::size_t k) const { return node_.input_shapes[k]; }
    // A scalar (Value) input as a graph handle, so create_graph sees its dependence; `value` is
    // its number (used when the input does not require grad).
    Value scalar_input(std::size_t k, double value) const;
    void add(std::size_t k, Tensor g);

private:
    const TensorNode& node_;
    const Tensor& out_;
    bool create_graph_;
    void* sink_obj_;
    void (*sink_)(void*, std::size_t, Tensor&&);
};

// Whether an op on these inputs must be recorded (recording on and some input requires grad).
bool any_tracks(std::initializer_list<const Tensor*> inputs);

// Records `result` as the output of op `name` with the given tensor inputs and backward closure.
// Returns the result (now an interior tensor when recorded; unchanged when nothing tracks).
Tensor record(const char* name, Tensor result, std::initializer_list<Tensor> inputs, BackwardFn backward);
// The same with one scalar (Value) input after the tensor inputs (e.g. tensor × Value).
Tensor record_with_value(const char* name, Tensor result, std::initializer_list<Tensor> inputs, const Value& v,
                         BackwardFn backward);

}  // namespace ad::detail
