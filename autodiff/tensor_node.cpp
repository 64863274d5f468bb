// Recording tensor ops on the tape, and what they save for backward.
#include <autodiff/tensor_node.hpp>

#include <cmath>

namespace ad::detail {

Tensor SavedTensor::get() const {
    if (!impl_) return Tensor();
    if (impl_->storage->version != version_)
        throw GraphError(fmt::format(
            "backward: a tensor of shape {} saved for the backward pass was modified in place after it was saved "
            "(version {} -> {}); clone() it before modifying, or modify it before it is used",
            impl_->shape.str(), version_, impl_->storage->version));
    if (!impl_->leaf && impl_->epoch != tape().epoch) throw_stale("saved tensor");
    return Tensor(impl_);
}

bool any_tracks(std::initializer_list<const Tensor*> inputs) {
    if (tape().recording_off) return false;
    for (const Tensor* t : inputs)
        if (t->defined() && t->requires_grad()) return true;
    return false;
}

namespace {
Tensor attach(const char* name, Tensor result, std::initializer_list<Tensor> inputs, const Value* v, BackwardFn backward) {
    Tape& t = tape();
    auto n = t.new_tensor_node();
    n->name = name;
    const std::size_t k = inputs.size() + (v ? 1 : 0);
    n->inputs.reserve(k);
    n->input_shapes.reserve(k);
    n->input_dtypes.reserve(k);
    n->input_needs.reserve(k);
    for (const Tensor& x : inputs) {
        const bool needs = x.defined() && x.requires_grad();
        n->inputs.push_back(needs ? x.node(t) : kNoNode);
        n->input_shapes.push_back(x.defined() ? x.shape() : Shape{});
        n->input_dtypes.push_back(x.defined() ? x.dtype() : DType::F32);
        n->input_needs.push_back(needs);
    }
    if (v) {
        const bool needs = v->tracks();
        n->inputs.push_back(needs ? v->node(t) : kNoNode);
        n->input_shapes.push_back(Shape{});
        n->input_dtypes.push_back(DType::F64);
        n->input_needs.push_back(needs);
    }
    n->shape = result.shape();
    n->dtype = result.dtype();
    n->backward = std::move(backward);
    const std::uint32_t entry = t.push_tensor(std::move(n));
    // The result becomes an interior tensor. If its impl is shared (an op returned an input
    // unchanged), give it its own impl so the input keeps its identity.
    // The result becomes interior in place, so tensors the op saved of its own output (exp saves
    // e^x) refer to the recorded output and create_graph differentiates through them. Ops return
    // fresh tensors; if a result is an existing tensor (an input passed through, a leaf that
    // requires grad), it gets a new identity instead.
    if (!result.impl()->leaf || result.impl()->requires_grad || result.impl()->node != kNoNode)
        result = Tensor::make_view(result.storage(), result.dtype(), result.shape(), result.strides(), result.offset());
    TensorImpl* im = result.impl();
    im->leaf = false;
    im->requires_grad = true;
    im->node = entry;
    im->epoch = t.epoch;
    return Tensor(result.impl_ptr());  // a counted handle (`result` was made as a leaf: uncounted)
}
}  // namespace

Tensor record(const char* name, Tensor result, std::initializer_list<Tensor> inputs, BackwardFn backward) {
    if (tape().recording_off) return result;
    bool any = false;
    for (const Tensor& x : inputs) any = any || (x.defined() && x.requires_grad());
    if (!any) return result;
    return attach(name, std::move(result), inputs, nullptr, std::move(backward));
}

Tensor record_with_value(const char* name, Tensor result, std::initializer_list<Tensor> inputs, const Value& v,
                         BackwardFn backward) {
    if (tape().recording_off) return result;
    bool any = v.tracks();
    for (const Tensor& x : inputs) any = any || (x.defined() && x.requires_grad());
    if (!any) return result;
    return attach(name, std::move(result), inputs, &v, std::move(backward));
}

Value GradContext::scalar_input(std::size_t k, double value) const {
    if (!node_.input_needs[k]) return Value::constant(value);
    Tape& t = tape();
    return Value::interior(t, node_.inputs[k], t.val[node_.inputs[k]]);
}

Tensor GradContext::writable_out(DType dt) const {
    if (out_.dtype() == dt && out_.is_contiguous() && out_.impl_ptr().use_count() == 1 &&
        out_.impl()->storage.use_count() == 1)
        return out_;
    const Tensor d = out_.detach();
    return d.dtype() == dt ? d.clone() : d.to(dt).contiguous();  // to() copies
}

void GradContext::add(std::size_t k, Tensor g) {
    if (!node_.input_needs[k] || !g.defined()) return;
    if (!(g.shape() == node_.input_shapes[k]))
        throw GraphError(fmt::format("backward of '{}': gradient for input {} has shape {} but the input has shape {} "
                                     "(engine bug, please report)",
                                     node_.name, k, g.shape().str(), node_.input_shapes[k].str()));
    if (g.dtype() != node_.input_dtypes[k]) g = g.to(node_.input_dtypes[k]);
    sink_(sink_obj_, k, std::move(g));
}

}  // namespace ad::detail
