// Tensor handles: construction, factories, data access, leaves and their gradients.
#include <autodiff/kernels.hpp>
#include <autodiff/pool.hpp>
#include <autodiff/ops/elementwise.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/random.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_node.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace ad {

namespace detail {
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
    if (a.dtype() != b.dtype())
        throw ShapeError(fmt::format("{}: dtypes {} and {} differ (convert one with .to())", op,
                                     dtype_name(a.dtype()), dtype_name(b.dtype())));
}

Broadcast2 plan_broadcast(const Tensor& a, const Tensor& b, const char* op) {
    Broadcast2 p;
    p.shape = broadcast_shapes(a.shape(), b.shape(), op);
    const int n = p.shape.size();
    p.sa.resize(n, 0);
    p.sb.resize(n, 0);
    for (int i = 0; i < n; ++i) {
        const int ia = a.shape().size() - n + i, ib = b.shape().size() - n + i;
        p.sa[i] = (ia >= 0 && a.shape()[ia] != 1) ? a.strides()[ia] : 0;
        p.sb[i] = (ib >= 0 && b.shape()[ib] != 1) ? b.strides()[ib] : 0;
    }
    return p;
}
}  // namespace detail

namespace {
using detail::TensorImpl;

// Every tensor that owns new storage is made here: the shape is checked before anything is
// allocated (negative dimensions, an element count or a byte size that does not fit).
std::shared_ptr<TensorImpl> new_impl(const Shape& shape, DType dt) {
    const std::int64_t n = shape.checked_numel("tensor");
    const auto max_bytes = static_cast<std::uint64_t>(PTRDIFF_MAX);  // the largest object C++ can address
    if (static_cast<std::uint64_t>(n) > max_bytes / dtype_size(dt))
        throw ShapeError(fmt::format("tensor: shape {} of {} needs {} elements x {} bytes, more than the largest "
                                     "possible allocation ({} bytes)",
                                     shape.str(), dtype_name(dt), n, dtype_size(dt), max_bytes));
    auto impl = std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>{});
    impl->storage = std::allocate_shared<Storage>(detail::PoolAllocator<Storage>{}, static_cast<std::size_t>(n) * dtype_size(dt));
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dt;
    return impl;
}

template <class T>
void fill_all(Tensor& t, double v) {
    T* p = t.data<T>();
    const std::int64_t n = t.numel();
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(v);
}

Tensor from_doubles(const std::vector<double>& v, const Shape& s, DType dt) {
    Tensor t = Tensor::empty(s, dt);
    detail::dispatch(dt, [&]<class T>() {
        T* p = t.data<T>();
        for (std::size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
    });
    return t;
}

// Offset (in elements) of a multi-index, bounds-checked.
std::int64_t element_offset(const Tensor& t, std::initializer_list<std::int64_t> index, const char* op) {
    const Shape& s = t.shape();
    if (static_cast<int>(index.size()) != s.size())
        throw ShapeError(fmt::format("{}: {} indices given for a tensor of shape {}", op, index.size(), s.str()));
    std::int64_t off = t.offset();
    int k = 0;
    for (std::int64_t i : index) {
        const std::int64_t j = i < 0 ? i + s[k] : i;
        if (j < 0 || j >= s[k])
            throw ShapeError(fmt::format("{}: index {} is out of range for dimension {} of shape {}", op, i, k, s.str()));
        off += j * t.strides()[k];
        ++k;
    }
    return off;
}
}  // namespace

// --- construction ---------------------------------------------------------------------------

Tensor::Tensor(std::initializer_list<double> v, DType dt) : counted_(false) {
    *this = from_doubles(std::vector<double>(v), Shape{static_cast<std::int64_t>(v.size())}, dt);
}
Tensor::Tensor(std::initializer_list<std::initializer_list<double>> v, DType dt) : counted_(false) {
    std::vector<double> flat;
    const std::size_t cols = v.size() ? v.begin()->size() : 0;
    for (auto& row : v) {
        if (row.size() != cols)
            throw ShapeError(fmt::format("tensor: ragged nested list (rows of {} and {} elements)", cols, row.size()));
        flat.insert(flat.end(), row.begin(), row.end());
    }
    *this = from_doubles(flat, Shape{static_cast<std::int64_t>(v.size()), static_cast<std::int64_t>(cols)}, dt);
}
Tensor::Tensor(std::initializer_list<std::initializer_list<std::initializer_list<double>>> v, DType dt) : counted_(false) {
    std::vector<double> flat;
    const std::size_t d1 = v.size() ? v.begin()->size() : 0;
    const std::size_t d2 = d1 ? v.begin()->begin()->size() : 0;
    for (auto& m : v) {
        if (m.size() != d1) throw ShapeError("tensor: ragged nested list");
        for (auto& row : m) {
            if (row.size() != d2) throw ShapeError("tensor: ragged nested list");
            flat.insert(flat.end(), row.begin(), row.end());
        }
    }
    *this = from_doubles(flat,
                         Shape{static_cast<std::int64_t>(v.size()), static_cast<std::int64_t>(d1),
                               static_cast<std::int64_t>(d2)},
                         dt);
}

Tensor Tensor::from_data(std::span<const float> data, const Shape& shape) {
    if (static_cast<std::int64_t>(data.size()) != shape.checked_numel("from_data"))
        throw ShapeError(fmt::format("from_data: {} elements given for shape {} ({} elements)", data.size(), shape.str(),
                                     shape.numel()));
    Tensor t = empty(shape, f32);
    if (!data.empty()) std::memcpy(t.data<float>(), data.data(), data.size() * sizeof(float));
    return t;
}
Tensor Tensor::from_data(std::span<const double> data, const Shape& shape) {
    if (static_cast<std::int64_t>(data.size()) != shape.checked_numel("from_data"))
        throw ShapeError(fmt::format("from_data: {} elements given for shape {} ({} elements)", data.size(), shape.str(),
                                     shape.numel()));
    Tensor t = empty(shape, f64);
    if (!data.empty()) std::memcpy(t.data<double>(), data.data(), data.size() * sizeof(double));
    return t;
}
Tensor Tensor::empty(const Shape& shape, DType dt) { return Tensor(new_impl(shape, dt)); }
Tensor Tensor::zeros(const Shape& shape, DType dt) {
    Tensor t = empty(shape, dt);
    std::memset(t.storage()->data, 0, static_cast<std::size_t>(t.numel()) * dtype_size(dt));
    return t;
}
Tensor Tensor::ones(const Shape& shape, DType dt) { return full(shape, 1.0, dt); }
Tensor Tensor::full(const Shape& shape, double value, DType dt) {
    Tensor t = empty(shape, dt);
    detail::dispatch(dt, [&]<class T>() { fill_all<T>(t, value); });
    return t;
}
Tensor Tensor::scalar(double value, DType dt) { return full(Shape{}, value, dt); }
Tensor Tensor::arange(double start, double stop, double step, DType dt) {
    if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
        throw ValueError(fmt::format("arange: bad range start={} stop={} step={}", start, stop, step));
    const double count = std::max(0.0, std::ceil((stop - start) / step));
    if (!(count < 0x1p62))  // also keeps the conversion below defined
        throw ShapeError(fmt::format("arange: start={} stop={} step={} gives too many elements ({})", start, stop, step, count));
    const auto n = static_cast<std::int64_t>(count);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = start + step * static_cast<double>(i);
    return from_doubles(v, Shape{n}, dt);
}
Tensor Tensor::linspace(double start, double stop, std::int64_t steps, DType dt) {
    if (steps < 0) throw ValueError(fmt::format("linspace: steps must be non-negative, got {}", steps));
    std::vector<double> v(static_cast<std::size_t>(steps));
    for (std::int64_t i = 0; i < steps; ++i)
        v[static_cast<std::size_t>(i)] =
            steps == 1 ? start : start + (stop - start) * static_cast<double>(i) / static_cast<double>(steps - 1);
    return from_doubles(v, Shape{steps}, dt);
}
Tensor Tensor::eye(std::int64_t n, DType dt) {
    Tensor t = zeros(Shape{n, n}, dt);
    detail::dispatch(dt, [&]<class T>() {
        for (std::int64_t i = 0; i < n; ++i) t.data<T>()[i * n + i] = T(1);
    });
    return t;
}
Tensor Tensor::rand(const Shape& shape, DType dt, std::uint64_t seed) { return uniform(shape, 0.0, 1.0, dt, seed); }
Tensor Tensor::uniform(const Shape& shape, double lo, double hi, DType dt, std::uint64_t seed) {
    Tensor t = empty(shape, dt);
    Rng rng(seed);
    detail::dispatch(dt, [&]<class T>() {
        T* p = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(rng.uniform(lo, hi));
    });
    return t;
}
Tensor Tensor::randn(const Shape& shape, DType dt, std::uint64_t seed) {
    Tensor t = empty(shape, dt);
    Rng rng(seed);
    detail::dispatch(dt, [&]<class T>() {
        T* p = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(rng.normal());
    });
    return t;
}
Tensor Tensor::make_view(std::shared_ptr<Storage> storage, DType dt, const Shape& shape, const Shape& strides,
                         std::int64_t offset) {
    auto impl = std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>{});
    impl->storage = std::move(storage);
    impl->dtype = dt;
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    return Tensor(std::move(impl));
}

// --- properties -----------------------------------------------------------------------------

void detail::throw_undefined_tensor() {
    throw GraphError("tensor: this Tensor is undefined (default-constructed, or a gradient that was never computed)");
}

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& p) {
    if (!p) detail::throw_undefined_tensor();
    return *p;
}
}  // namespace

std::int64_t Tensor::offset() const { return checked(impl_).offset; }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }
std::int64_t Tensor::size(std::int64_t axis) const { return shape()[shape().axis(axis, "size")]; }
bool Tensor::is_contiguous() const {
    const auto& im = checked(impl_);
    std::int64_t acc = 1;
    for (int i = im.shape.size() - 1; i >= 0; --i) {
        if (im.shape[i] != 1 && im.strides[i] != acc) return false;
        acc *= im.shape[i];
    }
    return true;
}

template <class T>
T* Tensor::data() const {
    const auto& im = checked(impl_);
    if (im.dtype != dtype_of<T>())
        throw ShapeError(fmt::format("data: tensor has dtype {}, not {}", dtype_name(im.dtype), dtype_name(dtype_of<T>())));
    return static_cast<T*>(im.storage->data) + im.offset;
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

double Tensor::item() const {
    if (numel() != 1)
        throw ShapeError(fmt::format("item: a tensor of shape {} has {} elements, not 1", shape().str(), numel()));
    return detail::dispatch(dtype(), [&]<class T>() { return static_cast<double>(*data<T>()); });
}
double Tensor::at(std::initializer_list<std::int64_t> index) const {
    const std::int64_t off = element_offset(*this, index, "at");
    return detail::dispatch(dtype(), [&]<class T>() { return static_cast<double>(static_cast<const T*>(storage()->data)[off]); });
}
void Tensor::set(std::initializer_list<std::int64_t> index, double v) {
    const std::int64_t off = element_offset(*this, index, "set");
    detail::dispatch(dtype(), [&]<class T>() { static_cast<T*>(storage()->data)[off] = static_cast<T>(v); });
    bump_version();
}
std::vector<double> Tensor::to_vector() const {
    const Tensor c = is_contiguous() ? *this : detach().contiguous();  // reading records nothing
    std::vector<double> v(static_cast<std::size_t>(c.numel()));
    detail::dispatch(c.dtype(), [&]<class T>() {
        const T* p = c.data<T>();
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
    });
    return v;
}

// --- autograd -------------------------------------------------------------------------------

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }
bool Tensor::is_leaf() const { return checked(impl_).leaf; }
Tensor& Tensor::requires_grad_(bool on) {
    auto& im = const_cast<TensorImpl&>(checked(impl_));
    if (!im.leaf)
        throw GraphError("requires_grad_: only leaf tensors can change requires_grad (use detach() to get a leaf)");
    im.requires_grad = on;
    return *this;
}
Tensor Tensor::grad() const {
    const auto& im = checked(impl_);
    if (!im.leaf)
        throw GraphError("grad: only leaf tensors keep their gradient (register_hook sees an interior gradient)");
    return im.grad;
}
void Tensor::zero_grad() { const_cast<TensorImpl&>(checked(impl_)).grad = Tensor(); }
Tensor Tensor::detach() const {
    const auto& im = checked(impl_);
    return make_view(im.storage, im.dtype, im.shape, im.strides, im.offset);
}
bool Tensor::tracks() const {
    const auto& im = checked(impl_);
    return im.requires_grad && detail::tape().recording_off == 0;
}
std::uint32_t Tensor::node(detail::Tape& t) const {
    auto& im = const_cast<TensorImpl&>(checked(impl_));
    if (!im.leaf) {
        if (im.epoch != t.epoch) detail::throw_stale("Tensor");
        return im.node;
    }
    if (im.epoch == t.epoch && im.node != detail::kNoNode) return im.node;
    auto n = t.new_tensor_node();
    n->name = "leaf";
    n->shape = im.shape;
    n->dtype = im.dtype;
    n->leaf = impl_;
    im.node = t.push_tensor(std::move(n));
    im.epoch = t.epoch;
    return im.node;
}
void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) {
    auto& im = const_cast<TensorImpl&>(checked(impl_));
    if (im.leaf) {
        if (!im.requires_grad) throw GraphError("register_hook: the tensor does not require grad");
        im.hooks.push_back(std::move(hook));
        return;
    }
    detail::Tape& t = detail::tape();
    t.tensor_nodes[t.arg_a[node(t)]]->hooks.push_back(std::move(hook));
}
Tensor& Tensor::set_label(std::string label) {
    auto& im = const_cast<TensorImpl&>(checked(impl_));
    if (!im.leaf) {
        detail::Tape& t = detail::tape();
        t.labels.emplace_back(node(t), label);
    }
    im.label = std::move(label);
    return *this;
}
std::string Tensor::label() const { return checked(impl_).label; }

// --- in place -------------------------------------------------------------------------------

void Tensor::bump_version() const { ++storage()->version; }
std::uint32_t Tensor::version() const { return storage()->version; }

namespace {
void check_inplace(const Tensor& t, const char* op) {
    if (t.requires_grad() && is_recording() && t.is_leaf())
        throw GraphError(fmt::format("{}: in-place operation on a leaf that requires grad while recording; "
                                     "wrap it in ad::NoGrad (as optimizers do)",
                                     op));
}
}  // namespace

Tensor& Tensor::zero_() { return fill_(0.0); }
Tensor& Tensor::fill_(double v) {
    check_inplace(*this, "fill_");
    Tensor src = Tensor::full(Shape{}, v, dtype());
    return copy_(src);
}
Tensor& Tensor::copy_(const Tensor& src) {
    check_inplace(*this, "copy_");
    detail::check_same_dtype("copy_", *this, src);
    const Shape bs = broadcast_shapes(shape(), src.shape(), "copy_");
    if (!(bs == shape()))
        throw ShapeError(fmt::format("copy_: source of shape {} does not broadcast to {}", src.shape().str(), shape().str()));
    // Write through strides: z = src broadcast, then scatter into this view.
    Tensor b = detail::zip(*this, src, "copy_", [](auto, auto s) { return s; });
    detail::dispatch(dtype(), [&]<class T>() {
        const T* bp = b.data<T>();
        T* base = static_cast<T*>(storage()->data);
        const Shape& s = shape();
        const Shape& st = strides();
        std::int64_t idx[Shape::kMaxDims] = {};
        const std::int64_t n = numel();
        for (std::int64_t k = 0; k < n; ++k) {
            std::int64_t off = offset();
            for (int d = 0; d < s.size(); ++d) off += idx[d] * st[d];
            base[off] = bp[k];
            for (int d = s.size() - 1; d >= 0; --d) {
                if (++idx[d] < s[d]) break;
                idx[d] = 0;
            }
        }
    });
    bump_version();
    return *this;
}
Tensor& Tensor::add_(const Tensor& other, double alpha) {
    check_inplace(*this, "add_");
    detail::check_same_dtype("add_", *this, other);
    if (is_contiguous() && other.is_contiguous() && shape() == other.shape()) {
        detail::dispatch(dtype(), [&]<class T>() {
            T* __restrict p = data<T>();
            const T* __restrict q = other.data<T>();
            const T a = static_cast<T>(alpha);
            const std::int64_t n = numel();
            for (std::int64_t i = 0; i < n; ++i) p[i] += a * q[i];
        });
        bump_version();
        return *this;
    }
    Tensor sum = detail::zip(*this, other, "add_", [alpha](auto x, auto y) { return x + static_cast<decltype(x)>(alpha) * y; });
    return copy_(sum);
}
Tensor& Tensor::mul_(double s) {
    check_inplace(*this, "mul_");
    if (!is_contiguous()) return copy_(detail::map(*this, [s](auto x) { return x * static_cast<decltype(x)>(s); }));
    detail::dispatch(dtype(), [&]<class T>() {
        T* p = data<T>();
        const T k = static_cast<T>(s);
        const std::int64_t n = numel();  // hoisted: the loop vectorizes
        for (std::int64_t i = 0; i < n; ++i) p[i] *= k;
    });
    bump_version();
    return *this;
}

// --- conversions ----------------------------------------------------------------------------

Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return Tensor::ones(t.shape(), t.dtype()); }

Tensor Tensor::sum() const { return ad::sum(*this); }
Tensor Tensor::mean() const { return ad::mean(*this); }
Tensor Tensor::t() const { return ad::transpose(*this, 0, 1); }
Tensor Tensor::reshape(const Shape& s) const { return ad::reshape(*this, s); }

}  // namespace ad
