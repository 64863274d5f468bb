#include <nn/module.hpp>

namespace ad::nn {

namespace {
template <class Get>
void collect(const Module& m, const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out, Get get) {
    for (const auto& [n, t] : get(m)) out.emplace_back(prefix + n, t);
    for (const auto& [n, c] : m.children()) collect(*c, prefix + n + ".", out, get);
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect(*this, "", out, [](const Module& m) -> const auto& { return m.params_; });
    return out;
}
std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect(*this, "", out, [](const Module& m) -> const auto& { return m.buffers_; });
    return out;
}
std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> r;
    for (auto& [n, t] : named_parameters()) r.push_back(t);
    return r;
}
std::int64_t Module::parameter_count() const {
    std::int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}
void Module::zero_grad() {  // walks the tree without building names: a training step calls it
    for (auto& [n, t] : params_) t.zero_grad();
    for (auto& [n, c] : children_) c->zero_grad();
}
void Module::train(bool on) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
}
Tensor& Module::register_parameter(std::string name, Tensor t) {
    if (!t.is_leaf()) throw GraphError(fmt::format("register_parameter: '{}' must be a leaf tensor (detach() it)", name));
    t.requires_grad_(true);
    params_.emplace_back(std::move(name), std::move(t));
    return params_.back().second;
}
Tensor& Module::register_buffer(std::string name, Tensor t) {
    buffers_.emplace_back(std::move(name), std::move(t));
    return buffers_.back().second;
}

std::string Module::repr() const {
    if (children_.empty()) return name();
    std::string s = name() + "(\n";
    for (const auto& [n, c] : children_) {
        std::string child = c->repr();
        std::string indented;
        for (char ch : child) {
            indented += ch;
            if (ch == '\n') indented += "  ";
        }
        s += fmt::format("  ({}): {}\n", n, indented);
    }
    return s + ")";
}

}  // namespace ad::nn
