# Thin wrapper over CMake. The two set-up commands are `make demo` and
# `make test`; everything else is for developers.
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?= -DPARE_WERROR=ON

.PHONY: deps all build cuda test test-release test-asan asan asan-build test-long mutate models demo bench references llamacpp-golden fuzz fuzz-build clean help

all: build

help:
	@echo "make demo        build, install the models, run pare end to end"
	@echo "make test        release and ASan+UBSan test suites (installs models first)"
	@echo "make test-long   nightly: both suites at full size (ASan too) and tools/mutate.sh"
	@echo "make models      install the real models into .cache/models"
	@echo "make cuda        build with the CUDA backend into build-cuda (needs nvcc, cuBLAS)"
	@echo "make bench       pare beside PyTorch, ONNX Runtime and llama.cpp (pip torch, onnxruntime, gguf)"
	@echo "make references  regenerate tests/golden with transformers and gguf (needs pip torch, gguf)"
	@echo "make fuzz        build libFuzzer targets and run each for FUZZ_SECONDS (default 60)"

deps:
	@./tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	cmake --build $(BUILD) -j $(JOBS)

cuda: deps
	cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DPARE_CUDA=ON $(CMAKE_FLAGS) > /dev/null
	cmake --build build-cuda -j $(JOBS)

models:
	./tools/install-models.sh

test: test-release test-asan

test-release: build models
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@# the CUDA backend compiles and links wherever nvcc is; its test runs on a GPU, else it reports a skip (exit 77)
	if command -v nvcc > /dev/null; then $(MAKE) cuda && { build-cuda/test_bert_train_cuda; rc=$$?; \
		if [ $$rc = 77 ]; then echo "test_bert_train_cuda: SKIPPED (no GPU here), not passed"; else exit $$rc; fi; }; fi

asan-build: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_SANITIZE=ON $(CMAKE_FLAGS) > /dev/null
	cmake --build build-asan -j $(JOBS)

# the sanitizer run: every path at reduced but representative sizes (PARE_TEST_QUICK)
asan test-asan: asan-build models
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		PARE_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS)

# nightly-style: the release suite, the sanitizer suite at full size, and the
# planted bugs of tools/mutants.txt, every one of which must be caught
test-long: test-release asan-build
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 3600
	./tools/mutate.sh

mutate: build models
	./tools/mutate.sh

demo: build models
	./tools/demo.sh

bench: build models
	./bench/run.sh
	if [ "$${BENCH_LLAMA:-1}" != 0 ]; then ./bench/llama.sh; fi
	if [ "$${BENCH_SPARSE:-1}" != 0 ]; then ./bench/sparse.sh; fi
	if [ "$${BENCH_TRAIN:-1}" != 0 ]; then ./bench/train.sh; fi
	if [ "$${BENCH_GPU:-1}" != 0 ] && nvidia-smi -L > /dev/null 2>&1 && [ -x build-cuda/pare ]; then ./bench/train_gpu.sh; fi

# llama.cpp's own goldens (tests/golden/*llamacpp*): builds llama.cpp from
# fetched source outside the repository (tools/build-llama-cpp.sh)
llamacpp-golden: models
	./tools/make_llamacpp_golden.sh

references: build models
	python3 tools/make_references.py
	python3 tools/make_qtypes_golden.py
	python3 tools/make_gguf_golden.py
	python3 tools/make_llama_references.py
	python3 tools/make_llama_gguf_references.py
	python3 tools/make_bpe_golden.py
	python3 tools/check_tokenizer_json.py
	python3 tools/make_grad_golden.py

FUZZ_SECONDS ?= 60
fuzz-build: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_FUZZ=ON \
		-DPARE_SANITIZE=ON -DPARE_TESTS=OFF $(CMAKE_FLAGS) > /dev/null
	cmake --build build-fuzz -j $(JOBS)

fuzz: fuzz-build
	./fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-cuda
