#!/usr/bin/env python3
"""Markdown tables of a benchmark run, for the README: tools/bench-tables.py [bench/results/latest.jsonl]"""
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.jsonl"
rows = [json.loads(line) for line in open(path) if line.strip()]


def f(v, fmt="{:.3g}"):
    return "n/a" if v is None else fmt.format(v)


def cpu(r):  # bench_scalar --cpu N (bench/run.sh runs it on each CPU)
    return "any CPU" if r.get("cpu") is None else f"CPU {r['cpu']}"


def ratio(a, b, fmt="{:.2f}"):
    return "n/a" if a is None or b is None or b == 0 else fmt.format(a / b)


print("| case | CPU | plain double | `ad::Active` (record + gradient) | Active / plain | `value_and_grad` over Active / plain | `ad::Real` / plain | `ad::Value` / plain | ADOL-C | Active / ADOL-C | bytes per op (Value) | Active tape: MB, write + read alone / plain | minimal tape / plain (Active / it) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    if r["bench"] in ("scalar_rosenbrock", "scalar_chain"):
        name = "extended Rosenbrock" if r["bench"] == "scalar_rosenbrock" else "chain `x = sin(x)*0.5 + x*x*0.1`"
        print(f"| {name}, n = 10^{len(str(r['n'])) - 1} | {cpu(r)} | {r['plain_s'] * 1e3:.3g} ms | {r['ours_s'] * 1e3:.3g} ms | "
              f"{ratio(r['ours_s'], r['plain_s'], '{:.1f}')}× | {ratio(r.get('functional_s'), r['plain_s'], '{:.1f}')}× | "
              f"{ratio(r.get('real_s'), r['plain_s'], '{:.1f}')}× | "
              f"{ratio(r.get('value_s'), r['plain_s'], '{:.1f}')}× | {f(r['adolc_s'] and r['adolc_s'] * 1e3)} ms | "
              f"{ratio(r['ours_s'], r['adolc_s'], '{:.3f}')} | {r['bytes_per_op']:.1f} | "
              f"{f(r.get('ours_tape_bytes') and r['ours_tape_bytes'] / 1e6, '{:.1f}')} MB, "
              f"{ratio(r.get('tape_traffic_s'), r['plain_s'], '{:.1f}')}× | "
              f"{ratio(r.get('reference_tape_s'), r['plain_s'], '{:.1f}')}× ({ratio(r['ours_s'], r.get('reference_tape_s'))}) |")
for r in rows:
    if r["bench"] == "scalar_mlp":
        # ours_us is ad::Active's since the sixteenth session (its first runs wrote it as active_us,
        # with ours_us Real's, as before)
        real_dot = r.get("real_dot_us", r["ours_us"])
        active_us = r["ours_us"] if "real_dot_us" in r else r.get("active_us")
        active = "" if active_us is None else f"`ad::Active` (parameters as the inputs of a recording) {active_us:.2f} µs; "
        print(f"\nScalar MLP 2-16-16-1 ({cpu(r)}), one sample forward + backward: {active}neurons written with `dot` / as a "
              f"running sum `acc = acc + w * a`: `ad::Real` {real_dot:.2f} / {f(r.get('real_loop_us'), '{:.2f}')} µs, "
              f"`ad::Value` {f(r.get('value_dot_us'), '{:.2f}')} / {f(r.get('value_us'), '{:.2f}')} µs (micrograd: ~1750 µs).")

products = [r for r in rows if r["bench"] == "scalar_products"]
if products:  # since the twentieth session
    print()
    print("| statements of four arguments, `s = s + (x[i]*x[i+1] + x[i+2]*x[i+3])` | CPU | plain double | `ad::Active` | Active / plain | bytes per identifier |")
    print("|---|---|---|---|---|---|")
    for r in products:
        print(f"| n = 10^{len(str(r['n'])) - 1} | {cpu(r)} | {r['plain_s'] * 1e3:.3g} ms | {r['ours_s'] * 1e3:.3g} ms | "
              f"{ratio(r['ours_s'], r['plain_s'], '{:.1f}')}× | {r['ours_bytes_per_id']:.1f} |")

print()
print("| config | ours µs | PyTorch µs | libtorch µs | ours / PyTorch | ours / libtorch | ours GFLOP/s | GEMM floor µs |")
print("|---|---|---|---|---|---|---|---|")
shapes = {"tiny": "2-16-16-1 b32 MSE SGD", "small": "64-128-64-10 b64 CE SGD",
          "fashion": "784-256-128-10 b128 CE Adam", "large": "784-1024-1024-10 b512 CE SGD"}
for r in rows:
    if r["bench"] == "mlp_step":
        print(f"| {r['config']} ({shapes.get(r['config'], '')}) | {r['ours_us']:.1f} | {f(r['torch_us'], '{:.1f}')} | "
              f"{f(r['libtorch_us'], '{:.1f}')} | {ratio(r['ours_us'], r['torch_us'])} | "
              f"{ratio(r['ours_us'], r['libtorch_us'])} | {r['ours_gflops']:.1f} | {r['gemm_floor_us']:.1f} |")

print()
print("| | seconds (10 epochs) | test accuracy | peak RSS |")
print("|---|---|---|---|")
for r in rows:
    if r["bench"] == "fashion_e2e":
        print(f"| ours | {r['ours_s']:.2f} | {r['ours_acc']:.4f} | {r['ours_rss_mb']:.0f} MB |")
        print(f"| PyTorch | {f(r['torch_s'], '{:.2f}')} | {f(r['torch_acc'], '{:.4f}')} | {f(r['torch_rss_mb'], '{:.0f}')} MB |")
        print(f"| ours / PyTorch | {ratio(r['ours_s'], r['torch_s'])} | | {ratio(r['ours_rss_mb'], r['torch_rss_mb'])} |")
