// The reverse sweep: one loop from the root entry down to entry 0 of the tape.
//
// Scalar entries keep their adjoints in a flat array (double, or Value under create_graph);
// tensor entries keep theirs in their TensorNode. Each entry's adjoint is complete when the loop
// reaches it, because every consumer was recorded after it. No recursion, no sort.
#include <autodiff/backward.hpp>
#include <autodiff/kernels.hpp>
#include <autodiff/ops/elementwise.hpp>
#include <autodiff/scalar_backward.hpp>
#include <autodiff/tensor_node.hpp>

#include <algorithm>
#include <cmath>

namespace ad::detail {

namespace {

bool is_zero(double g) { return g == 0.0; }
bool is_zero(const Value& g) { return g.is_constant() && g.value() == 0.0; }

bool all_finite(const Tensor& g) {
    return dispatch(g.dtype(), [&]<class T>() {
        Tensor c = g.contiguous();
        const T* p = c.data<T>();
        for (std::int64_t i = 0; i < c.numel(); ++i)
            if (!std::isfinite(p[i])) return false;
        return true;
    });
}

std::string describe_entry(const Tape& t, std::uint32_t i) {
    const char* name = t.op[i] == Op::Tensor ? t.tensor_nodes[t.arg_a[i]]->name : op_name(t.op[i]);
    const std::string* label = t.label_of(i);
    return label ? fmt::format("'{}' (label '{}', recorded #{})", name, *label, i)
                 : fmt::format("'{}' (recorded #{})", name, i);
}

// A tensor hook must return a gradient of its tensor's shape and dtype (or an undefined Tensor,
// which keeps the gradient): anything else would surface later as an error naming another op,
// or as a leaf gradient of the wrong shape.
template <class Describe>
void check_hook_result(const Tensor& r, const Shape& shape, DType dtype, Describe&& whose) {
    if (r.shape() == shape && r.dtype() == dtype) return;
    throw GraphError(fmt::format("register_hook: the hook on {} returned a gradient of shape {} ({}), but the tensor's "
                                 "gradient has shape {} ({}); a hook must keep the shape and dtype",
                                 whose(), r.shape().str(), dtype_name(r.dtype()), shape.str(), dtype_name(dtype)));
}

// Whether g is a plain contiguous tensor that nothing but this handle can reach (neither its
// TensorImpl nor its storage is shared): a leaf may then keep it as its gradient without a copy.
bool sole_owner(const Tensor& g) {
    const std::shared_ptr<TensorImpl>& p = g.impl_ptr();
    return p.use_count() == 1 && p->storage.use_count() == 1 && p->leaf && !p->requires_grad && p->offset == 0 &&
           p->hooks.empty() && !p->grad.defined() && g.is_contiguous();
}

// Checked: anomaly mode or hooks are on (the plain path skips those tests entirely).
template <class T, bool Checked>
class Sweep {
public:
    Sweep(Tape& t, std::vector<T>& adj, const SweepRequest& req) : t_(t), adj_(adj), req_(req) {}

    // Ctx interface of scalar_backward.
    T arg(std::uint32_t i) const {
        if constexpr (std::is_same_v<T, double>) {
            return t_.val[i];
        } else {
            return Value::interior(t_, i, t_.val[i]);
        }
    }
    double num(std::uint32_t i) const { return t_.val[i]; }
    double cst(std::uint32_t i) const { return t_.consts[i]; }
    std::uint32_t list(std::uint32_t k) const { return t_.stmt_arg[k]; }
    void acc(std::uint32_t i, const T& g) {
        if constexpr (Checked) {
            if (t_.anomaly) check_finite(g);
        }
        if constexpr (std::is_same_v<T, double>) {
            adj_[i] += g;
        } else {
            adj_[i] = is_zero(adj_[i]) ? g : adj_[i] + g;
        }
    }
    void stmt(std::uint32_t first, std::uint32_t count, const T& g) {
        if constexpr (std::is_same_v<T, double>) {
            for (std::uint32_t k = first; k < first + count; ++k) acc(t_.stmt_arg[k], g * t_.stmt_jac[k]);
        } else {
            throw GraphError(fmt::format(
                "backward(create_graph=true) reached {}: ad::Real records the numbers of its first derivatives, "
                "not their graph, so gradients of its gradients would be wrong; use ad::Value for higher order",
                describe_entry(t_, current_)));
        }
    }
    // A gradient flowing into entry i, which may be a tensor entry or a scalar entry.
    void acc_tensor(std::uint32_t i, Tensor g) {
        if (t_.anomaly && !all_finite(g))
            throw AnomalyError(fmt::format("anomaly: backward of {} produced a non-finite gradient", describe_entry(t_, current_)));
        if (t_.op[i] == Op::Tensor) {
            TensorNode& n = *t_.tensor_nodes[t_.arg_a[i]];
            n.grad = n.grad.defined() ? n.grad + g : std::move(g);
            return;
        }
        if constexpr (std::is_same_v<T, double>) {
            acc(i, g.item());
        } else {
            acc(i, item_value(g));
        }
    }

    // Entries root down to lo (the adjoints are left as they are: the caller clears them).
    void run(std::uint32_t root, std::uint32_t lo = 0) {
        for (std::uint32_t i = root + 1; i-- > lo;) entry(i);
    }

    // Processes entry i: its adjoint is complete (every consumer was recorded after it).
    void entry(std::uint32_t i) {
        {
            current_ = i;
            const Op o = t_.op[i];
            if (o == Op::Tensor) {
                tensor_entry(i);
                return;
            }
            if (is_zero(adj_[i])) return;
            if constexpr (Checked) {
                if (!t_.hooks.empty()) apply_scalar_hooks(i);
            }
            switch (o) {
            case Op::Leaf:
                if (LeafData* leaf = t_.leaf_at(i); req_.accumulate && leaf->refs > 0) accumulate_leaf(*leaf, adj_[i]);
                break;
            case Op::FromTensor:
                if constexpr (std::is_same_v<T, double>) {
                    acc_tensor(t_.arg_a[i], Tensor::scalar(adj_[i], t_.tensor_nodes[t_.arg_a[t_.arg_a[i]]]->dtype));
                } else {
                    acc_tensor(t_.arg_a[i], tensor_from_value(adj_[i], t_.tensor_nodes[t_.arg_a[t_.arg_a[i]]]->dtype));
                }
                break;
            default:
                if (i < t_.released_upto) throw_released(i);
                {
                    const T g = adj_[i];  // copy: acc may reallocate nothing, but keep it simple
                    scalar_backward<T>(*this, o, i, t_.arg_a[i], t_.arg_b[i], g);
                }
            }
        }
    }

private:
    void check_finite(const T& g) const {
        double v;
        if constexpr (std::is_same_v<T, double>) {
            v = g;
        } else {
            v = g.value();
        }
        if (!std::isfinite(v))
            throw AnomalyError(
                fmt::format("anomaly: backward of {} produced a non-finite gradient ({})", describe_entry(t_, current_), v));
    }

    [[noreturn]] void throw_released(std::uint32_t i) const {
        throw GraphError(fmt::format("backward: trying to backward through {} a second time, but its graph was "
                                     "released by the first backward(); pass retain_graph=true to the first call",
                                     describe_entry(t_, i)));
    }

    // One scalar hook on gradient g. Under create_graph (T = Value) a hook on Values gets the
    // recorded gradient and its result is the adjoint as is: its operations are recorded, so
    // higher derivatives see them (no rescaling of g, which divided by zero when g was 0).
    template <class Describe>
    T run_hook(const ScalarHook& h, const T& g, Describe&& whose) {
        if constexpr (std::is_same_v<T, double>) {
            return h.on_value ? h.on_value(Value::constant(g)).value() : h.on_number(g);  // recording is off
        } else {
            if (h.on_value) return h.on_value(g);
            // A number cannot carry the graph, and whether the hook is locally the identity cannot
            // be told from one call (a doubling hook returns 0 unchanged at g = 0): refuse.
            throw GraphError(fmt::format(
                "register_hook: the hook on {} takes and returns a number, which cannot carry the gradient's graph "
                "under backward(create_graph=true) (higher derivatives would be wrong). Register a hook on Values "
                "instead, e.g. [](const ad::Value& g) {{ return g * 2.0; }}",
                whose()));
        }
    }

    void apply_scalar_hooks(std::uint32_t i) {
        for (auto& [entry, hook] : t_.hooks) {
            if (entry != i) continue;
            adj_[i] = run_hook(hook, adj_[i], [&] { return describe_entry(t_, i); });
        }
    }

    void accumulate_leaf(LeafData& leaf, T g) {
        if (leaf.extras) {
            for (auto& hook : leaf.extras->hooks)
                g = run_hook(hook, g, [&] {
                    return leaf.extras->label.empty() ? std::string("a leaf Value")
                                                      : fmt::format("leaf Value '{}'", leaf.extras->label);
                });
        }
        if constexpr (std::is_same_v<T, double>) {
            leaf.grad += g;
        } else {
            leaf.grad += g.value();
            auto& gg = leaf.more().grad_graph;
            if (gg)
                *gg = *gg + g;
            else
                gg = std::make_unique<Value>(g);
        }
    }

    void tensor_entry(std::uint32_t i) {
        TensorNode* n = t_.tensor_nodes[t_.arg_a[i]].get();
        if (!n->grad.defined()) return;
        for (auto& hook : n->hooks) {
            Tensor r = hook(n->grad);
            if (!r.defined()) continue;
            check_hook_result(r, n->shape, n->dtype, [&] { return fmt::format("the tensor from {}", describe_entry(t_, i)); });
            n->grad = r;
        }
        if (n->leaf) {
            if (req_.accumulate) accumulate_tensor_leaf(*n);
            return;
        }
        if (n->released || !n->backward) throw_released(i);
        Tensor gout = n->grad;
        if (!req_.keep(i)) n->grad = Tensor();
        auto sink = [&](std::size_t k, Tensor g) { acc_tensor(n->inputs[k], std::move(g)); };
        GradContext ctx(*n, gout, req_.create_graph, sink);
        try {
            n->backward(ctx);
        } catch (const GraphError& e) {
            throw GraphError(fmt::format("backward of {}: {}", describe_entry(t_, i), e.what()));
        }
        if (!req_.retain_graph) {
            n->backward = nullptr;  // frees what the op saved
            n->released = true;
        }
    }

    void accumulate_tensor_leaf(TensorNode& n) {
        TensorImpl& leaf = *n.leaf;
        Tensor g = n.grad;
        n.grad = Tensor();
        for (auto& hook : leaf.hooks) {
            Tensor r = hook(g);
            if (!r.defined()) continue;
            check_hook_result(r, leaf.shape, leaf.dtype, [&] {
                return leaf.label.empty() ? fmt::format("a leaf tensor of shape {}", leaf.shape.str())
                                          : fmt::format("leaf tensor '{}' of shape {}", leaf.label, leaf.shape.str());
            });
            g = r;
        }
        if (!leaf.grad.defined()) {
            // Own the buffer: the sweep may share it with other gradients (an add passes g on),
            // so it is copied unless nothing else can see it.
            leaf.grad = req_.create_graph || sole_owner(g) ? std::move(g) : g.clone().detach();
        } else if (req_.create_graph) {
            leaf.grad = leaf.grad + g;
        } else {
            NoGrad ng;
            leaf.grad.add_(g);
        }
    }

    Tape& t_;
    std::vector<T>& adj_;
    const SweepRequest& req_;
    std::uint32_t current_ = 0;
};

// The plain first-order sweep over scalar entries: the adjoint array and the tape's columns are
// held in locals (restrict), and every scalar rule comes from scalar_backward.hpp, inlined.
// Entries it does not handle (leaves, tensors, bridges) go to the general Sweep, one at a time.
struct FastCtx {
    const double* __restrict val;
    const double* __restrict consts;
    double* __restrict adj;
    const double* __restrict stmt_jac;
    const std::uint32_t* __restrict stmt_arg;
    double arg(std::uint32_t i) const { return val[i]; }
    double num(std::uint32_t i) const { return val[i]; }
    double cst(std::uint32_t i) const { return consts[i]; }
    std::uint32_t list(std::uint32_t k) const { return stmt_arg[k]; }
    void acc(std::uint32_t i, double g) { adj[i] += g; }
    void stmt(std::uint32_t first, std::uint32_t count, double g) {
        const std::uint32_t* a = stmt_arg + first;
        const double* j = stmt_jac + first;
        for (const std::uint32_t* end = a + count; a != end; ++a, ++j) adj[*a] += g * *j;
    }
};

// Entries [lo, root] (lo > 0 when the sweep stops above a transform's inputs).
void fast_sweep(Tape& t, std::uint32_t root, std::uint32_t lo, std::vector<double>& adjv, Sweep<double, false>& slow,
                bool accumulate) {
    FastCtx c{t.val, t.consts.data(), adjv.data(), t.stmt_jac, t.stmt_arg};
    const std::uint32_t* __restrict A = t.arg_a;
    const std::uint32_t* __restrict B = t.arg_b;
    const Op* __restrict op = t.op;
    // Each adjoint is read once, when the loop reaches it, then reset to zero: the scratch array
    // is left all-zero for the next sweep without a separate clearing pass. Entries below
    // `released` were freed by an earlier backward: reaching one with a gradient is an error,
    // which the general sweep reports (the first loop needs no such test).
    const std::uint32_t released = std::clamp(t.released_upto, lo, root + 1);
    auto run = [&]<bool Released>(std::uint32_t hi, std::uint32_t lo) {
        for (std::uint32_t i = hi; i-- > lo;) {
            const Op o = op[i];
            const double g = c.adj[i];
            // Tested in the order of how common the entries are: statements (ad::Real), leaves,
            // the other scalar ops, constants, then everything the general sweep handles.
            if (o == Op::Stmt) {
                if (g == 0.0) continue;
                if constexpr (Released) slow.entry(i);  // throws the released-graph error
                c.adj[i] = 0.0;
                c.stmt(A[i], B[i], g);
            } else if (LeafData* leaf = o == Op::Leaf && accumulate ? Tape::leaf_address(A[i], B[i]) : nullptr;
                       leaf && !leaf->extras) {
                leaf->grad += g;  // a plain leaf (no hooks; or a dead one, whose gradient goes nowhere)
                c.adj[i] = 0.0;
            } else if (o >= Op::Add && o < Op::FromTensor) {
                if (g == 0.0) continue;
                if constexpr (Released) slow.entry(i);
                c.adj[i] = 0.0;
                scalar_backward<double>(c, o, i, A[i], B[i], g);
            } else if (o == Op::Const) {  // a dot's constant partner: nothing to pass on
                if constexpr (Released) slow.entry(i);
                c.adj[i] = 0.0;
            } else {  // tensor entries (their gradients live in their nodes), bridges, hooked leaves
                slow.entry(i);
                c.adj[i] = 0.0;
            }
        }
    };
    run.template operator()<false>(root + 1, released);
    run.template operator()<true>(released, lo);
}

std::vector<double>& scratch_adjoints() {
    thread_local std::vector<double> adj;
    return adj;
}

void clear_tensor_grads(Tape& t, std::uint32_t, const SweepRequest& req) {
    for (auto& n : t.tensor_nodes)
        if (n->grad.defined() && !req.keep(n->entry)) n->grad = Tensor();
}

}  // namespace

bool SweepRequest::keep(std::uint32_t entry) const {
    for (auto w : wanted)
        if (w == entry) return true;
    return false;
}

void run_sweep(std::uint32_t root, const Seed& seed, const SweepRequest& req, SweepResult* out) {
    Tape& t = tape();
    if (root >= t.size) throw GraphError("backward: the root is not in this thread's graph");
    const bool record = req.create_graph;
    // The sweep runs with recording on only under create_graph.
    const std::uint32_t saved_off = t.recording_off;
    t.recording_off = record ? 0 : 1;
    struct Restore {
        Tape& t;
        std::uint32_t off;
        ~Restore() { t.recording_off = off; }
    } restore{t, saved_off};
    const bool saved_anomaly = t.anomaly;

    auto finish = [&](auto& adj) {
        if (out) {
            for (std::uint32_t w : req.wanted) {
                if (t.op[w] == Op::Tensor) {
                    out->tensors.push_back(t.tensor_nodes[t.arg_a[w]]->grad);
                    t.tensor_nodes[t.arg_a[w]]->grad = Tensor();
                } else {
                    if constexpr (std::is_same_v<std::decay_t<decltype(adj[0])>, double>) {
                        out->scalars.push_back(Value::constant(adj[w]));
                    } else {
                        out->scalars.push_back(adj[w]);
                    }
                }
            }
        }
    };

    try {
        if (!record) {
            // The scratch adjoints are all zero between sweeps (see fast_sweep).
            std::vector<double>& adj = scratch_adjoints();
            const std::uint32_t inputs_end = req.inputs + req.n_inputs;
            const std::size_t used = std::max<std::size_t>(std::size_t(root) + 1, inputs_end);
            if (adj.size() < used) adj.resize(used, 0.0);
            struct Rezero {  // restores the all-zero invariant unless the fast sweep did
                std::vector<double>& adj;
                std::uint32_t root;
                bool needed = true;
                ~Rezero() {
                    if (needed) std::fill(adj.begin(), adj.begin() + root + 1, 0.0);
                }
            } rezero{adj, root};
            if (t.op[root] == Op::Tensor)
                t.tensor_nodes[t.arg_a[root]]->grad = seed.tensor;
            else
                adj[root] = seed.scalar.value();
            if (req.n_inputs > 0) {
                // Down to the inputs only, then their adjoints are the gradient.
                const std::uint32_t lo = std::min(inputs_end, root + 1);
                if (t.anomaly || !t.hooks.empty()) {  // through the inputs too: they may have hooks
                    Sweep<double, true> s(t, adj, req);
                    s.run(root, std::min(req.inputs, lo));  // rezero clears [0, root] after it
                } else {
                    Sweep<double, false> s(t, adj, req);
                    fast_sweep(t, root, lo, adj, s, req.accumulate);  // leaves [lo, root] zero
                    rezero.root = static_cast<std::uint32_t>(std::max(lo, inputs_end) - 1);
                }
                std::copy(adj.begin() + req.inputs, adj.begin() + inputs_end, req.inputs_grad);
            } else if (t.anomaly || !t.hooks.empty() || !req.wanted.empty()) {
                Sweep<double, true> s(t, adj, req);
                s.run(root);
                finish(adj);
            } else {
                Sweep<double, false> s(t, adj, req);
                fast_sweep(t, root, 0, adj, s, req.accumulate);
                rezero.needed = false;
            }
        } else {
            std::vector<Value> adj(std::size_t(root) + 1);
            if (t.op[root] == Op::Tensor)
                t.tensor_nodes[t.arg_a[root]]->grad = seed.tensor;
            else
                adj[root] = seed.scalar;
            Sweep<Value, true> s(t, adj, req);
            s.run(root);
            finish(adj);
        }
    } catch (...) {
        clear_tensor_grads(t, root, SweepRequest{});
        t.anomaly = saved_anomaly;
        throw;
    }
    clear_tensor_grads(t, root, req);
    if (!req.retain_graph && t.released_upto < root + 1) t.released_upto = root + 1;
}

}  // namespace ad::detail
