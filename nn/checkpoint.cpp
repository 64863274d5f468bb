#include <nn/checkpoint.hpp>

#include <nn/io/safetensors.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>

namespace ad::nn {

namespace {

const char* st_dtype(DType d) { return d == DType::F32 ? "F32" : "F64"; }

std::string shape_text(const std::vector<std::int64_t>& s) { return Shape(s.begin(), s.end()).str(); }

std::vector<std::int64_t> dims(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

TensorRecord to_record(std::string name, const Tensor& t) {
    NoGrad off;
    const Tensor c = t.detach().contiguous();
    TensorRecord r{std::move(name), st_dtype(c.dtype()), dims(c), {}};
    r.data.resize(static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
    const void* src = c.dtype() == DType::F32 ? static_cast<const void*>(c.data<float>())
                                              : static_cast<const void*>(c.data<double>());
    if (!r.data.empty()) std::memcpy(r.data.data(), src, r.data.size());
    return r;
}

// The model's tensors (parameters, then buffers) by state_dict name.
std::vector<std::pair<std::string, Tensor>> model_tensors(const Module& model) {
    auto all = model.named_parameters();
    for (auto& b : model.named_buffers()) all.push_back(std::move(b));
    return all;
}

// The model's name of each optimizer parameter; ValueError naming `who` if one is not the model's.
std::vector<std::string> optimizer_param_names(const Module& model, const Optimizer& opt, const char* who) {
    const auto named = model.named_parameters();
    std::vector<std::string> names;
    for (std::size_t i = 0; i < opt.params().size(); ++i) {
        auto it = std::find_if(named.begin(), named.end(),
                               [&](const auto& np) { return np.second.impl() == opt.params()[i].impl(); });
        if (it == named.end())
            throw ValueError(fmt::format("{}: parameter {} of the {} optimizer (shape {}) is not a parameter of the model",
                                         who, i, opt.name(), opt.params()[i].shape().str()));
        names.push_back(it->first);
    }
    return names;
}

// Checks a file tensor against the tensor it is loaded into (ShapeError naming file and tensor).
void check_match(const std::string& path, const TensorRecord& r, const Tensor& target, const char* what) {
    const char* want = st_dtype(target.dtype());
    if (r.dtype != want)
        throw ShapeError(fmt::format("load_checkpoint: {}: tensor '{}' has dtype {} but the {} is {} ({})", path, r.name,
                                     r.dtype, what, want, dtype_name(target.dtype())));
    if (r.shape != dims(target))
        throw ShapeError(fmt::format("load_checkpoint: {}: tensor '{}' has shape {} but the {} has shape {}", path,
                                     r.name, shape_text(r.shape), what, target.shape().str()));
}

Tensor from_record(const TensorRecord& r) {
    const DType dt = r.dtype == "F32" ? f32 : f64;
    Tensor t = Tensor::empty(Shape(r.shape.begin(), r.shape.end()), dt);
    void* dst = dt == f32 ? static_cast<void*>(t.data<float>()) : static_cast<void*>(t.data<double>());
    if (!r.data.empty()) std::memcpy(dst, r.data.data(), r.data.size());
    return t;
}

void copy_into(Tensor& target, const TensorRecord& r) {
    void* dst = target.dtype() == f32 ? static_cast<void*>(target.data<float>())
                                      : static_cast<void*>(target.data<double>());
    if (!r.data.empty()) std::memcpy(dst, r.data.data(), r.data.size());
    target.bump_version();
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
    SafetensorsFile file;
    for (const auto& [key, value] : metadata)
        if (starts_with(key, "optimizer"))
            throw ValueError(fmt::format("save_checkpoint: {}: metadata key '{}' is reserved (keys starting with "
                                         "'optimizer' describe the optimizer)",
                                         path, key));
    file.metadata = metadata;
    for (const auto& [name, t] : model_tensors(model)) {
        if (!t.defined()) continue;
        file.tensors.push_back(to_record(name, t));
    }
    if (optimizer) {
        const auto names = optimizer_param_names(model, *optimizer, "save_checkpoint");
        file.metadata["optimizer"] = optimizer->name();
        for (const auto& [k, v] : optimizer->hyperparameters()) file.metadata["optimizer." + k] = v;
        const auto state = optimizer->state();
        for (std::size_t i = 0; i < state.size(); ++i) {
            file.metadata[fmt::format("optimizer.{}.step", names[i])] = std::to_string(state[i].step);
            for (const auto& [buf, t] : state[i].buffers)
                file.tensors.push_back(to_record(fmt::format("optimizer.{}.{}", names[i], buf), t));
        }
    }
    save_safetensors(path, file);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
    const SafetensorsFile file = load_safetensors(path);
    std::set<std::string> used;

    // 1. The model's tensors: all present, with matching dtypes and shapes.
    std::vector<std::pair<Tensor, const TensorRecord*>> plan;
    for (auto& [name, t] : model_tensors(model)) {
        if (!t.defined()) continue;
        const TensorRecord* r = file.find(name);
        if (!r)
            throw IOError(fmt::format("load_checkpoint: {}: missing tensor '{}' (the model's is {} {})", path, name,
                                      dtype_name(t.dtype()), t.shape().str()));
        check_match(path, *r, t, "model's");
        plan.emplace_back(t, r);
        used.insert(name);
    }

    // 2. The optimizer's state, checked against its parameters.
    std::vector<ParamState> state;
    std::string saved_lr;
    if (optimizer) {
        const auto it = file.metadata.find("optimizer");
        if (it == file.metadata.end())
            throw IOError(fmt::format("load_checkpoint: {}: the file has no optimizer state", path));
        if (it->second != optimizer->name())
            throw IOError(fmt::format("load_checkpoint: {}: the file holds the state of a {} optimizer, not {}", path,
                                      it->second, optimizer->name()));
        const auto names = optimizer_param_names(model, *optimizer, "load_checkpoint");
        for (std::size_t i = 0; i < names.size(); ++i) {
            ParamState ps;
            const std::string step_key = fmt::format("optimizer.{}.step", names[i]);
            const auto s = file.metadata.find(step_key);
            if (s == file.metadata.end())
                throw IOError(fmt::format("load_checkpoint: {}: metadata lacks '{}'", path, step_key));
            const auto [end, ec] = std::from_chars(s->second.data(), s->second.data() + s->second.size(), ps.step);
            if (ec != std::errc() || end != s->second.data() + s->second.size() || ps.step < 0)
                throw IOError(fmt::format("load_checkpoint: {}: metadata '{}' = '{}' is not a step count", path,
                                          step_key, s->second));
            const std::string prefix = fmt::format("optimizer.{}.", names[i]);
            for (const TensorRecord& r : file.tensors) {
                if (!starts_with(r.name, prefix) || r.name.find('.', prefix.size()) != std::string::npos) continue;
                check_match(path, r, optimizer->params()[i], "optimizer's parameter");
                ps.buffers.emplace_back(r.name.substr(prefix.size()), from_record(r));
                used.insert(r.name);
            }
            state.push_back(std::move(ps));
        }
        const auto lr = file.metadata.find("optimizer.lr");
        if (lr != file.metadata.end()) saved_lr = lr->second;
    }

    // 3. Nothing unexpected.
    for (const TensorRecord& r : file.tensors) {
        if (used.count(r.name)) continue;
        if (!optimizer && starts_with(r.name, "optimizer.")) continue;
        throw IOError(fmt::format("load_checkpoint: {}: unexpected tensor '{}' ({} {}) is not part of the {}", path,
                                  r.name, r.dtype, shape_text(r.shape), optimizer ? "model or optimizer" : "model"));
    }

    // 4. Apply: the optimizer first (its load_state validates before changing anything), then
    // the model, which can no longer fail.
    if (optimizer) {
        double lr = optimizer->lr();
        if (!saved_lr.empty()) {
            try {
                std::size_t used_chars = 0;
                lr = std::stod(saved_lr, &used_chars);
                if (used_chars != saved_lr.size()) throw std::invalid_argument("trailing characters");
            } catch (const std::exception&) {
                throw IOError(fmt::format("load_checkpoint: {}: metadata 'optimizer.lr' = '{}' is not a number", path,
                                          saved_lr));
            }
            if (!(lr >= 0) || !std::isfinite(lr))
                throw IOError(fmt::format("load_checkpoint: {}: metadata 'optimizer.lr' = '{}' is not a valid learning "
                                          "rate",
                                          path, saved_lr));
        }
        try {
            optimizer->load_state(state);
        } catch (const ShapeError& e) {
            throw ShapeError(fmt::format("load_checkpoint: {}: {}", path, e.what()));
        } catch (const ValueError& e) {
            throw IOError(fmt::format("load_checkpoint: {}: {}", path, e.what()));
        }
        optimizer->set_lr(lr);
    }
    NoGrad off;
    for (auto& [t, r] : plan) copy_into(t, *r);
    return file.metadata;
}

}  // namespace ad::nn
