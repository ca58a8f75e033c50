# The two commands: `make demo` and `make test`. Each does its own set-up
# first, and only its own: `make demo` installs what building the extension and
# running the demo need (a C++ compiler, Eigen, Boost, Python's headers and venv
# from Debian; the package without extras in .venv); `make test` adds the test
# tools (Catch2, clang-format, Chromium and its driver; the test and dev
# extras). `make deps` lists both sets and what is missing on this machine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CMAKE := $(VENV)/bin/cmake
NINJA := $(abspath $(VENV)/bin/ninja)
CPP_BUILD := build/cpp
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
INTERSPHINX ?= 0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := $(shell find core bindings python -type f -not -path '*/__pycache__/*') \
           CMakeLists.txt pyproject.toml

.PHONY: all demo test setup deps demo-deps test-deps notebooks docs cpp-test py-test lint \
        format bench clean fuzz-py fuzz-cpp cpp-sanitize py-sanitize cpp-tsan sanitize fuzz

all: test

demo: demo-deps $(VENV)/.demo-installed
	$(VENV)/bin/journeysim demo --out demo-retention.png

test: setup lint cpp-test cpp-sanitize docs py-test

setup: test-deps $(VENV)/.test-installed

# Debian packages, each as package:kind:what, where what shows it is present:
# inc a header under DEB_INCLUDE, bin a program on DEB_PATH, pyinc a header in
# $(PYTHON)'s include directory, pymod a module $(PYTHON) imports. (DEB_INCLUDE,
# DEB_PATH and PYTHON can be pointed elsewhere: tests/python/test_setup.py does.)
# Building the extension: a C++ compiler, Eigen 3.4, Boost (Random is header
# only), Python's headers; python3-venv for .venv (Debian keeps ensurepip there).
BUILD_DEBS := g++:bin:g++ libeigen3-dev:inc:eigen3/Eigen/Core \
  libboost-dev:inc:boost/random/mersenne_twister.hpp python3-dev:pyinc:Python.h \
  python3-venv:pymod:ensurepip
# The tests only: Catch2 (C++ tests), clang-format (make lint), chromium and
# chromium-driver (the HTML report's browser test).
TEST_DEBS := catch2:inc:catch2/catch.hpp clang-format:bin:clang-format \
  chromium:bin:chromium chromium-driver:bin:chromedriver
DEB_INCLUDE ?= /usr/include
DEB_PATH ?= $(PATH)
# Evaluated only when a rule needs them (recursive variables).
PY_INCLUDE = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
deb_name = $(word 1,$(subst :, ,$(1)))
deb_kind = $(word 2,$(subst :, ,$(1)))
deb_what = $(word 3,$(subst :, ,$(1)))
deb_present = $(strip \
  $(if $(filter inc,$(deb_kind)),$(wildcard $(DEB_INCLUDE)/$(deb_what))) \
  $(if $(filter bin,$(deb_kind)),$(firstword $(wildcard $(addsuffix /$(deb_what),$(subst :, ,$(DEB_PATH)))))) \
  $(if $(filter pyinc,$(deb_kind)),$(if $(PY_INCLUDE),$(wildcard $(PY_INCLUDE)/$(deb_what)))) \
  $(if $(filter pymod,$(deb_kind)),$(shell $(PYTHON) -c 'import $(deb_what)' >/dev/null 2>&1 && echo yes)))
deb_names = $(foreach d,$(1),$(call deb_name,$(d)))
deb_missing = $(strip $(foreach d,$(1),$(if $(call deb_present,$(d)),,$(call deb_name,$(d)))))
# apt-get for the missing packages of a list, or a no-op when none is missing.
apt_install = $(if $(1),@echo "installing: $(1)"; $(SUDO) apt-get update -qq && \
  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(1),@:)

demo-deps:
	$(call apt_install,$(call deb_missing,$(BUILD_DEBS)))

test-deps: demo-deps
	$(call apt_install,$(call deb_missing,$(TEST_DEBS)))

deps:
	@echo "make demo installs (Debian): $(call deb_names,$(BUILD_DEBS)); Python: . (no extras)"
	@echo "  missing here: $(or $(call deb_missing,$(BUILD_DEBS)),none)"
	@echo "make test adds (Debian): $(call deb_names,$(TEST_DEBS)); Python: .[test,dev] and the docs extra"
	@echo "  missing here: $(or $(call deb_missing,$(TEST_DEBS)),none)"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# The demo's install: the package alone. The tests' install is a superset, so
# it marks the demo's as done too.
$(VENV)/.demo-installed: $(VENV)/bin/python $(SOURCES)
	$(PY) -m pip install -q .
	touch $@

$(VENV)/.test-installed: $(VENV)/bin/python $(SOURCES)
	$(PY) -m pip install -q ".[test,dev]" --config-settings=cmake.define.JOURNEYSIM_WERROR=ON
	touch $@ $(VENV)/.demo-installed

$(VENV)/.notebook-installed: $(VENV)/bin/python $(SOURCES)
	$(PY) -m pip install -q ".[notebook]"
	touch $@

# The documentation site's tools: the `docs` extra of pyproject.toml, read from
# there and installed beside the package (as `make demo` or `make test` installed
# it), so the package is not built again for them.
$(VENV)/.docs-installed: $(VENV)/.demo-installed pyproject.toml
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["docs"]))' \
	  | xargs $(PY) -m pip install -q
	touch $@

# The documentation site (Sphinx, docs/conf.py) in docs/_build/html, read afresh
# (-E) with warnings as errors. The notebooks show their stored outputs (see
# docs/conf.py); tests/python/test_docs_site.py opens the result in Chromium.
# `make docs INTERSPHINX=1` links numpy, pandas and Dask names to their sites
# (it fetches their inventories, so it needs the network).
docs: demo-deps $(VENV)/.docs-installed
	JOURNEYSIM_DOCS_INTERSPHINX=$(INTERSPHINX) $(PY) -m sphinx -b html -E -W --keep-going -q docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

# Executes every notebook in place and stores its outputs (figures as PNG), so
# that they read on GitHub; `make test` executes them again without writing.
# Open them with `.venv/bin/jupyter lab notebooks/`.
notebooks: demo-deps $(VENV)/.notebook-installed
	$(PY) notebooks/execute.py notebooks/*.ipynb

cpp-test: test-deps $(CMAKE)
	$(CMAKE) -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_MAKE_PROGRAM=$(NINJA) \
	  -DJOURNEYSIM_BUILD_PYTHON=OFF -DJOURNEYSIM_BUILD_TESTS=ON -DJOURNEYSIM_WERROR=ON >/dev/null
	$(CMAKE) --build $(CPP_BUILD) -j $(JOBS)
	cd $(CPP_BUILD) && ../../$(VENV)/bin/ctest --output-on-failure -j $(JOBS)

py-test: $(VENV)/.test-installed
	$(PY) -m pytest -q

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check python tests benchmarks notebooks/execute.py docs/conf.py docs/images/make_images.py
	$(VENV)/bin/ruff format --check python tests benchmarks notebooks/execute.py docs/conf.py docs/images/make_images.py
	PYTHONPATH=python $(VENV)/bin/lint-imports --no-cache
	clang-format --dry-run --Werror $$(find core bindings tests/cpp -name '*.cpp' -o -name '*.hpp')

format: $(VENV)/.test-installed
	$(VENV)/bin/ruff format python tests benchmarks notebooks/execute.py docs/conf.py docs/images/make_images.py
	$(VENV)/bin/ruff check --fix python tests benchmarks notebooks/execute.py docs/conf.py docs/images/make_images.py
	clang-format -i $$(find core bindings tests/cpp -name '*.cpp' -o -name '*.hpp')

bench: setup
	$(PY) benchmarks/bench_exact.py
	$(PY) benchmarks/bench_simulate.py
	$(PY) benchmarks/bench_compare.py
	$(PY) benchmarks/bench_fit.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_limits.py

clean:
	rm -rf build $(VENV) demo-retention.png docs/_build docs/api/generated docs/api/_sections.md

# ---------------------------------------------------------------------------
# Sanitizers and fuzzing (docs/reliability.md). ASan, UBSan and TSan are gcc's
# own (libasan, libubsan, libtsan come with gcc); libFuzzer needs clang, which
# `make fuzz` installs from Debian when it is missing. Each has its own build
# directory under build/.
# A Debug build (no NDEBUG: Eigen's own assertions stay on) with line tables for
# the stacks; -O0 where compile time counts most (the suite runs in seconds),
# -O1 where the code runs long. Warnings are errors in cpp-test, not here: gcc
# warns falsely under the sanitizers (-Wmaybe-uninitialized).
SAN_CMAKE := -G Ninja -DCMAKE_MAKE_PROGRAM=$(NINJA) -DCMAKE_BUILD_TYPE=Debug \
  -DJOURNEYSIM_WERROR=OFF
ASAN_SANITIZERS := address,undefined,float-cast-overflow
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_init_order=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
FUZZ_CXX ?= clang++-14
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_journey fuzz_count_transitions

$(CMAKE): $(VENV)/bin/python
	$(PY) -m pip install -q cmake ninja

# The Catch2 suite under AddressSanitizer + UndefinedBehaviorSanitizer (part of `make test`).
cpp-sanitize: test-deps $(CMAKE)
	$(CMAKE) -S . -B build/asan $(SAN_CMAKE) -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
	  -DJOURNEYSIM_SANITIZE=$(ASAN_SANITIZERS) \
	  -DJOURNEYSIM_BUILD_PYTHON=OFF -DJOURNEYSIM_BUILD_TESTS=ON >/dev/null
	$(CMAKE) --build build/asan -j $(JOBS)
	cd build/asan && $(ASAN_ENV) $(abspath $(VENV)/bin/ctest) --output-on-failure -j $(JOBS)

# The Python suite against an ASan + UBSan build of journeysim._core, loaded from
# an overlay of python/journeysim (symlinks, made afresh each run) with the
# sanitized module in it. Python is not instrumented: libasan is preloaded (with
# libstdc++, or ASan cannot intercept C++ throws from other extensions) and leak
# checks are off (the interpreter keeps its objects at exit by design). Reports
# go to files, from pytest's own process and from every subprocess (CLI,
# notebook kernels), since pytest captures the output of a test that aborts.
# Skipped: the browser tests of the HTML report and of the documentation site
# (chromium under a preloaded ASan; the site is not the core's business).
PY_ASAN := build/asan-py
PY_ASAN_SKIP := test_report_renders_in_chromium or test_docs_site
PY_ASAN_ENV = PYTHONPATH=$(abspath $(PY_ASAN))/overlay \
  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" \
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=0:log_path=$(abspath $(PY_ASAN))/report \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(abspath $(PY_ASAN))/report
py-sanitize: $(VENV)/.test-installed $(CMAKE)
	$(PY) -c "import pybind11" 2>/dev/null || $(PY) -m pip install -q pybind11
	$(CMAKE) -S . -B $(PY_ASAN) $(SAN_CMAKE) -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
	  -DJOURNEYSIM_SANITIZE=$(ASAN_SANITIZERS) \
	  -DJOURNEYSIM_BUILD_PYTHON=ON -DJOURNEYSIM_BUILD_TESTS=OFF \
	  -DPython_EXECUTABLE=$(abspath $(PY)) -Dpybind11_DIR=$$($(PY) -m pybind11 --cmakedir) >/dev/null
	$(CMAKE) --build $(PY_ASAN) -j $(JOBS)
	rm -rf $(PY_ASAN)/overlay $(PY_ASAN)/report.* && mkdir -p $(PY_ASAN)/overlay/journeysim
	for f in python/journeysim/*; do \
	  case "$$f" in *_core*.so|*__pycache__) ;; *) ln -s $(abspath .)/$$f $(PY_ASAN)/overlay/journeysim/;; esac; \
	done
	ln -s $(abspath $(PY_ASAN))/bindings/_core$$($(PY) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))") \
	  $(PY_ASAN)/overlay/journeysim/
	$(PY_ASAN_ENV) $(PY) -c "import journeysim._core as c; assert '/$(PY_ASAN)/' in c.__file__, c.__file__"
	$(PY_ASAN_ENV) $(PY) -m pytest -q -p no:cacheprovider -k "not ($(PY_ASAN_SKIP))"; rc=$$?; \
	if ls $(PY_ASAN)/report.* >/dev/null 2>&1; then \
	  cat $(PY_ASAN)/report.*; echo "py-sanitize: sanitizer reports above"; exit 1; fi; \
	exit $$rc

# The Catch2 suite under ThreadSanitizer: the threaded simulation (1, 2, 4
# threads, the same results) and everything else.
cpp-tsan: test-deps $(CMAKE)
	$(CMAKE) -S . -B build/tsan $(SAN_CMAKE) -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
	  -DJOURNEYSIM_SANITIZE=thread \
	  -DJOURNEYSIM_BUILD_PYTHON=OFF -DJOURNEYSIM_BUILD_TESTS=ON >/dev/null
	$(CMAKE) --build build/tsan -j $(JOBS)
	cd build/tsan && $(TSAN_ENV) $(abspath $(VENV)/bin/ctest) --output-on-failure -j $(JOBS)

sanitize: cpp-sanitize py-sanitize cpp-tsan

fuzz: fuzz-cpp fuzz-py

# The property tests (tests/python/test_properties.py) with the "fuzz" profile:
# 20 times the examples of `make test` (over 10,000 in all), counted by kind.
fuzz-py: $(VENV)/.test-installed
	@mkdir -p build/fuzz
	JOURNEYSIM_PROPERTY_PROFILE=fuzz JOURNEYSIM_PROPERTY_REPORT=$(abspath build/fuzz/properties.json) \
	  $(PY) -m pytest -q -p no:cacheprovider tests/python/test_properties.py
	@$(PY) -c "import json; d = json.load(open('build/fuzz/properties.json')); \
	  [print(f'{v:>7,}  {k}') for k, v in d.items()]; print(f'{sum(d.values()):>7,}  in all')"

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each. Seeds come from
# tests/fuzz/corpus/<target>; new inputs stay in build/fuzz/corpus/<target>,
# crashes in build/fuzz/artifacts/ (each one becomes a regression test).
fuzz-cpp: test-deps $(CMAKE)
	@command -v $(FUZZ_CXX) >/dev/null && \
	  [ -n "$$(find /usr/lib/llvm-14 -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null)" ] || { \
	  echo "installing: clang-14 libclang-rt-14-dev"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq clang-14 libclang-rt-14-dev; }
	$(CMAKE) -S . -B build/fuzz $(SAN_CMAKE) -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DJOURNEYSIM_FUZZ=ON \
	  -DJOURNEYSIM_BUILD_PYTHON=OFF -DJOURNEYSIM_BUILD_TESTS=OFF >/dev/null
	$(CMAKE) --build build/fuzz -j $(JOBS)
	@mkdir -p build/fuzz/artifacts; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  echo "== $$t: $(FUZZ_SECONDS) s"; \
	  build/fuzz/tests/fuzz/$$t build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$$t- \
	    > build/fuzz/$$t.log 2>&1; rc=$$?; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' build/fuzz/$$t.log; \
	  echo "corpus: $$(ls build/fuzz/corpus/$$t | wc -l) inputs in build/fuzz/corpus/$$t"; \
	  if [ $$rc -ne 0 ]; then \
	    grep -E -A12 'ERROR|runtime error|contract violated|timeout' build/fuzz/$$t.log | head -40; \
	    echo "$$t failed: see build/fuzz/$$t.log and build/fuzz/artifacts/"; exit 1; fi; \
	done
