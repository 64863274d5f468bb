# The short way in. Every target installs missing Debian packages, configures and builds as needed.
#   make demo     the main job: train an MLP on Fashion-MNIST (falls back to synthetic data)
#   make test     every test suite; the last line is "N passed, N failed"
#   make bench    benchmarks against PyTorch, libtorch and ADOL-C; writes bench/results/latest.jsonl
#   make fuzz     libFuzzer targets (FUZZ_SECONDS per target, default 600)
# demo, test and bench export OPENBLAS_CORETYPE when it is unset and OpenBLAS would pick kernels
# narrower than the CPU runs (tools/openblas-env.sh).
BUILD ?= build
MESON_FLAGS ?=
FUZZ_SECONDS ?= 600

.PHONY: all deps build demo test bench fuzz clean
all: build

deps:
	@bash tools/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps
	@bash tools/install-deps.sh data || echo "demo: could not install the dataset; the demo will use synthetic data"
	@$(MAKE) --no-print-directory build
	@. tools/openblas-env.sh $(BUILD); ./$(BUILD)/examples/fashion_mnist --out results/fashion_mnist

test: build
	@. tools/openblas-env.sh $(BUILD); meson test -C $(BUILD) --print-errorlogs --num-processes 2 --no-rebuild > $(BUILD)/test-output.txt 2>&1; rc=$$?; \
	  tail -n 30 $(BUILD)/test-output.txt; bash tools/test-summary.sh $(BUILD) $$rc; exit $$rc

bench: deps
	@bash tools/install-deps.sh bench data || echo "bench: some anchors could not be installed; they will be reported as null"
	@$(MAKE) --no-print-directory build
	bash bench/run.sh $(BUILD)

fuzz:
	@bash tools/install-deps.sh fuzz
	bash tools/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
