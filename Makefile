# The two commands README promises, plus the pieces they are made of.
BUILD_DIR ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
PY := /usr/bin/python3

.PHONY: all bootstrap configure build test demo install clean fuzz bench bench-zoo

all: build

bootstrap:
	bash scripts/bootstrap.sh

configure: bootstrap
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	bash scripts/demo.sh $(BUILD_DIR)

# libFuzzer targets (fuzz/), each run FUZZ_SECONDS seconds; its own clang build in build-fuzz.
FUZZ_SECONDS ?= 60
fuzz:
	bash fuzz/run_fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR)

# Speed against ONNX Runtime and PyTorch (bench/run.py); not part of `make test`.
bench: build
	$(PY) bench/run.py --build-dir $(BUILD_DIR)

# Inference of more torchvision classifiers against ONNX Runtime (bench/zoo.py): the section
# "Other models" of docs/benchmarks.md.
bench-zoo: build
	$(PY) bench/zoo.py --build-dir $(BUILD_DIR)
