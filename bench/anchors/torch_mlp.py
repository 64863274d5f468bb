#!/usr/bin/python3
"""PyTorch CPU anchor: time one MLP training step (zero_grad + forward + loss +
backward + optimizer step) on fixed, seeded random data.

Configs (float32, ReLU between hidden layers, PyTorch default Linear init):
  tiny     2-16-16-1        batch  32  MSE loss       SGD  lr 0.01
  small    64-128-64-10     batch  64  cross-entropy  SGD  lr 0.01
  fashion  784-256-128-10   batch 128  cross-entropy  Adam lr 1e-3
  large    784-1024-1024-10 batch 512  cross-entropy  SGD  lr 0.01

Timing: warm up, then time >= --reps repetitions of a block of steps, the block
size chosen so that one repetition lasts >= --min-rep-seconds; report the
median microseconds per step.  Prints one JSON line per config:
  {"config":"tiny","torch_us":12.3,"threads":1,"blas_threads":2,"torch_version":"1.13.0a0"}
"threads" is torch.set_num_threads; "blas_threads" is what OpenBLAS uses for
GEMM (set it with the environment variable OPENBLAS_NUM_THREADS).

Run with Debian's /usr/bin/python3 (the interpreter that has torch).
"""
import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

# name -> (layer sizes, batch, loss, optimizer)
CONFIGS = {
    "tiny": ([2, 16, 16, 1], 32, "mse", "sgd"),
    "small": ([64, 128, 64, 10], 64, "ce", "sgd"),
    "fashion": ([784, 256, 128, 10], 128, "ce", "adam"),
    "large": ([784, 1024, 1024, 10], 512, "ce", "sgd"),
}


def blas_threads():
    """Threads OpenBLAS (the BLAS behind Debian's torch) will use for GEMM, or
    None when it cannot be asked.  torch.set_num_threads does not control it;
    OPENBLAS_NUM_THREADS does."""
    try:
        import ctypes
        return int(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def make_mlp(sizes):
    """Linear layers with ReLU between them (none after the last)."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def make_step(name, seed=0):
    """Build model, data, loss and optimizer for a config; return a step closure."""
    sizes, batch, loss_kind, opt_kind = CONFIGS[name]
    torch.manual_seed(seed)
    model = make_mlp(sizes)
    x = torch.randn(batch, sizes[0])
    if loss_kind == "mse":
        y = torch.randn(batch, sizes[-1])
        loss_fn = nn.MSELoss()
    else:
        y = torch.randint(0, sizes[-1], (batch,))
        loss_fn = nn.CrossEntropyLoss()
    if opt_kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def time_config(name, reps, min_rep_seconds, warmup_seconds):
    """Median microseconds per training step for one config."""
    step = make_step(name)
    # Warm-up: at least 3 steps and at least warmup_seconds.
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < warmup_seconds:
        step()
        n += 1
    per_step = (time.perf_counter() - t0) / n
    block = max(1, int(min_rep_seconds / per_step) + 1)
    samples = []
    while len(samples) < reps:
        t0 = time.perf_counter()
        for _ in range(block):
            step()
        elapsed = time.perf_counter() - t0
        if elapsed < min_rep_seconds:
            # The warm-up estimate was pessimistic: grow the block, discard this sample.
            block = max(block + 1, int(block * min_rep_seconds / elapsed) + 1)
            continue
        samples.append(elapsed / block * 1e6)
    return statistics.median(samples)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="all", choices=["all"] + list(CONFIGS))
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions (>= 5 recommended)")
    p.add_argument("--min-rep-seconds", type=float, default=0.2)
    p.add_argument("--warmup-seconds", type=float, default=0.1)
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    if args.reps < 1:
        p.error(f"--reps must be >= 1, got {args.reps}")
    torch.set_num_threads(args.threads)
    names = list(CONFIGS) if args.config == "all" else [args.config]
    for name in names:
        us = time_config(name, args.reps, args.min_rep_seconds, args.warmup_seconds)
        print(json.dumps({"config": name, "torch_us": round(us, 3),
                          "threads": torch.get_num_threads(),
                          "blas_threads": blas_threads(),
                          "torch_version": torch.__version__},
                         separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
