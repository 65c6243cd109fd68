# The two commands of the README, and their parts. Everything real lives in scripts/ and CMake presets.
PORT ?= 8080
JOBS ?= $(shell nproc)
export NODE_PATH := /usr/share/nodejs

.PHONY: demo test setup native wasm asan clean
demo: setup wasm            ## set-up, build the web app, serve it on http://127.0.0.1:$(PORT)
	node scripts/serve.mjs --root build/wasm/web --port $(PORT)

test:                       ## set-up, build native + sanitizers + wasm, run every test
	bash scripts/test

setup:
	bash scripts/setup

native: setup
	cmake --preset native >/dev/null && cmake --build --preset native -j $(JOBS)
wasm: setup
	cmake --preset wasm >/dev/null && cmake --build --preset wasm -j $(JOBS)
asan: setup
	cmake --preset native-asan >/dev/null && cmake --build --preset native-asan -j $(JOBS)
clean:
	rm -rf build
