// Tests of nn/checkpoint: round trips with and without optimizer state, validation against the
// model, and exchange with PyTorch in both directions (skipped, with a notice, without torch).
#include <nn/checkpoint.hpp>
#include <nn/io/safetensors.hpp>
#include <nn/linear.hpp>
#include <nn/optim.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

using namespace ad;
using namespace ad::nn;
namespace fs = std::filesystem;

namespace {

// The equivalent of torch.nn.Sequential(Linear(in, hidden), ReLU(), Linear(hidden, out)): same
// state_dict names ("0.weight", "0.bias", "2.weight", "2.bias").
struct Net : Module {
    std::shared_ptr<Linear> l0, l2;
    Net(std::int64_t in, std::int64_t hidden, std::int64_t out, std::uint64_t seed, DType dt = f32)
        : l0(register_module("0", std::make_shared<Linear>(in, hidden, LinearOptions{.dtype = dt, .seed = seed}))),
          l2(register_module("2", std::make_shared<Linear>(hidden, out, LinearOptions{.dtype = dt, .seed = seed + 1}))) {}
    Tensor forward(const Tensor& x) override { return l2->forward(relu(l0->forward(x))); }
    std::string name() const override { return "Sequential"; }
};

// A fresh scratch directory, removed at scope exit.
struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / (name + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& f) const { return (path / f).string(); }
};

std::vector<double> values(const Tensor& t) { return t.to_vector(); }

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

Tensor record_tensor(const SafetensorsFile& f, const std::string& name, const Shape& shape) {
    const TensorRecord* r = f.find(name);
    REQUIRE(r != nullptr);
    const auto v = tensor_to_f32(*r);
    return Tensor::from_data(std::span<const float>(v), shape);
}

// One optimizer step on the quadratic loss of the net's output.
void train_step(Module& m, Optimizer& opt, const Tensor& x) {
    opt.zero_grad();
    sum(square(m.forward(x))).backward();
    opt.step();
}

bool torch_available() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

// Reads and writes safetensors with json + struct + torch (no safetensors package needed).
// argv: <our model> <our inputs/outputs> <out: torch outputs of our model> <out: torch model> <out: its io>
const char* kPython = R"PY(
import json, struct, sys, torch
DT = {'F32': (torch.float32, 'f'), 'F64': (torch.float64, 'd')}
def load(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        out[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=DT[v['dtype']][0]).reshape(v['shape'])
    return out
def save(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous()
        code = 'F32' if t.dtype == torch.float32 else 'F64'
        data = struct.pack('<%d%s' % (t.numel(), DT[code][1]), *t.flatten().tolist())
        header[k] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
ours, io, out, theirs, their_io = sys.argv[1:6]
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
model.load_state_dict(load(ours))  # strict: names and shapes must match exactly
x = load(io)['x']
with torch.no_grad():
    save(out, {'y': model(x)})
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
x = torch.randn(6, 4)
save(theirs, model.state_dict())
with torch.no_grad():
    save(their_io, {'x': x, 'y': model(x)})
)PY";

}  // namespace

TEST_CASE("checkpoint: parameters round trip with PyTorch's names, shapes and dtypes") {
    TempDir dir("ad_ckpt_roundtrip");
    Net a(4, 8, 3, 1), b(4, 8, 3, 2);
    CHECK(values(a.l0->weight) != values(b.l0->weight));
    save_checkpoint(dir / "m.safetensors", a, nullptr, {{"epoch", "7"}});
    const SafetensorsFile f = load_safetensors(dir / "m.safetensors");
    REQUIRE(f.tensors.size() == 4);
    REQUIRE(f.find("0.weight"));
    CHECK(f.find("0.weight")->shape == std::vector<std::int64_t>{8, 4});  // [out, in]
    CHECK(f.find("2.bias")->dtype == "F32");
    CHECK(f.metadata.at("epoch") == "7");
    const auto meta = load_checkpoint(dir / "m.safetensors", b);
    CHECK(meta.at("epoch") == "7");
    for (auto [pa, pb] : {std::pair{a.l0->weight, b.l0->weight}, {a.l0->bias, b.l0->bias}, {a.l2->weight, b.l2->weight}})
        CHECK(values(pa) == values(pb));
    const Tensor x = Tensor::randn(Shape{3, 4}, f32, 5);
    CHECK(values(a(x)) == values(b(x)));

    Net d(4, 8, 3, 3, f64);
    save_checkpoint(dir / "d.safetensors", d);
    CHECK(load_safetensors(dir / "d.safetensors").find("0.weight")->dtype == "F64");
    CHECK_THROWS_AS(save_checkpoint(dir / "m.safetensors", a, nullptr, {{"optimizer", "x"}}), ValueError);
}

TEST_CASE("checkpoint: optimizer state round trip continues training identically") {
    TempDir dir("ad_ckpt_optim");
    const Tensor x = Tensor::randn(Shape{5, 4}, f32, 9);
    Net a(4, 8, 3, 1);
    Adam opt_a(a.parameters(), {.lr = 0.01});
    for (int i = 0; i < 3; ++i) train_step(a, opt_a, x);
    opt_a.set_lr(0.005);
    save_checkpoint(dir / "c.safetensors", a, &opt_a);
    const SafetensorsFile f = load_safetensors(dir / "c.safetensors");
    CHECK(f.find("optimizer.0.weight.exp_avg"));
    CHECK(f.find("optimizer.2.bias.exp_avg_sq"));
    CHECK(f.metadata.at("optimizer") == "Adam");
    CHECK(f.metadata.at("optimizer.0.weight.step") == "3");

    Net b(4, 8, 3, 2);
    Adam opt_b(b.parameters(), {.lr = 0.01});
    load_checkpoint(dir / "c.safetensors", b, &opt_b);
    CHECK(opt_b.lr() == 0.005);
    CHECK(opt_b.step_count(0) == 3);
    for (int i = 0; i < 2; ++i) {
        train_step(a, opt_a, x);
        train_step(b, opt_b, x);
    }
    CHECK(values(a.l2->weight) == values(b.l2->weight));

    // A model-only load ignores the optimizer tensors; an optimizer needs them.
    Net c(4, 8, 3, 3);
    CHECK_NOTHROW(load_checkpoint(dir / "c.safetensors", c));
    save_checkpoint(dir / "plain.safetensors", a);
    SGD sgd(c.parameters(), {.lr = 0.1, .momentum = 0.9});
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "plain.safetensors", c, &sgd), doctest::Contains("no optimizer state"),
                         IOError);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "c.safetensors", c, &sgd), doctest::Contains("Adam optimizer, not SGD"),
                         IOError);
    // An optimizer over tensors outside the model cannot be saved with it.
    SGD stranger({Tensor::zeros(Shape{2}).requires_grad_()});
    CHECK_THROWS_AS(save_checkpoint(dir / "x.safetensors", a, &stranger), ValueError);
}

TEST_CASE("checkpoint: loading validates names, shapes and dtypes, and changes nothing on error") {
    TempDir dir("ad_ckpt_validate");
    Net a(4, 8, 3, 1);
    save_checkpoint(dir / "a.safetensors", a);
    Net target(4, 8, 3, 5);
    const auto before = values(target.l0->weight);

    Net wider(4, 9, 3, 1);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "a.safetensors", wider),
                         doctest::Contains("tensor '0.weight' has shape [8, 4] but the model's has shape [9, 4]"),
                         ShapeError);
    Net doubles(4, 8, 3, 1, f64);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "a.safetensors", doubles), doctest::Contains("dtype F32"), ShapeError);

    // A file lacking a tensor, and one with an extra tensor (written as PyTorch would).
    SafetensorsFile f = load_safetensors(dir / "a.safetensors");
    SafetensorsFile missing = f;
    std::erase_if(missing.tensors, [](const TensorRecord& r) { return r.name == "2.bias"; });
    save_safetensors(dir / "missing.safetensors", missing);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "missing.safetensors", target),
                         doctest::Contains("missing.safetensors: missing tensor '2.bias'"), IOError);
    SafetensorsFile extra = f;
    const float one = 1;
    extra.tensors.push_back(make_tensor_f32("4.weight", {1}, std::span<const float>(&one, 1)));
    save_safetensors(dir / "extra.safetensors", extra);
    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "extra.safetensors", target), doctest::Contains("unexpected tensor '4.weight'"),
                         IOError);
    // The last tensor is wrong: nothing was copied before the check failed.
    SafetensorsFile late = f;
    for (auto& r : late.tensors)
        if (r.name == "2.bias") r = make_tensor_f32("2.bias", {1}, std::span<const float>(&one, 1));
    save_safetensors(dir / "late.safetensors", late);
    CHECK_THROWS_AS(load_checkpoint(dir / "late.safetensors", target), ShapeError);
    CHECK(values(target.l0->weight) == before);

    CHECK_THROWS_WITH_AS(load_checkpoint(dir / "nope.safetensors", target), doctest::Contains("nope.safetensors"), IOError);
    // A failed save (directory missing) throws and leaves no file.
    CHECK_THROWS_AS(save_checkpoint(dir / "no/such/dir.safetensors", a), IOError);
    CHECK_FALSE(fs::exists(dir / "no/such/dir.safetensors"));
}

TEST_CASE("checkpoint: exchange with PyTorch in both directions") {
    TempDir dir("ad_ckpt_torch");
    Net ours(4, 8, 3, 11);
    const Tensor x = Tensor::randn(Shape{5, 4}, f32, 3);
    const Tensor y = ours(x);
    save_checkpoint(dir / "ours.safetensors", ours);
    save_safetensors(dir / "io.safetensors", SafetensorsFile{{make_tensor_f32("x", {5, 4}, std::span<const float>(x.data<float>(), 20))}, {}});
    // Our own round trip always runs.
    Net copy(4, 8, 3, 12);
    load_checkpoint(dir / "ours.safetensors", copy);
    CHECK(values(copy(x)) == values(y));

    if (!torch_available()) {
        MESSAGE("PyTorch (/usr/bin/python3 -c 'import torch') not available: skipping the exchange with torch");
        return;
    }
    {
        std::ofstream(dir / "exchange.py") << kPython;
    }
    const std::string cmd = fmt::format("/usr/bin/python3 {} {} {} {} {} {}", dir / "exchange.py", dir / "ours.safetensors",
                                        dir / "io.safetensors", dir / "torch_out.safetensors",
                                        dir / "theirs.safetensors", dir / "their_io.safetensors");
    REQUIRE(std::system(cmd.c_str()) == 0);

    // torch ran our model on x: same outputs.
    const Tensor y_torch = record_tensor(load_safetensors(dir / "torch_out.safetensors"), "y", Shape{5, 3});
    CHECK(max_abs_diff(values(y_torch), values(y)) <= 1e-5);

    // torch's model, loaded into ours: same outputs on torch's inputs.
    Net theirs(4, 8, 3, 99);
    load_checkpoint(dir / "theirs.safetensors", theirs);
    const SafetensorsFile io = load_safetensors(dir / "their_io.safetensors");
    const Tensor tx = record_tensor(io, "x", Shape{6, 4});
    const Tensor ty = record_tensor(io, "y", Shape{6, 3});
    CHECK(max_abs_diff(values(theirs(tx)), values(ty)) <= 1e-5);
    CHECK(max_abs_diff(values(theirs(tx)), values(ours(tx))) > 1e-3);  // really a different model
}
