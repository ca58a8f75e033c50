# The two commands: `make demo` and `make test`. Both do all set-up first:
# system headers from Debian (only when missing), a virtual environment in
# .venv, and an install of the package with its test extra.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CPP_BUILD := build/cpp
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := $(shell find core bindings python -type f -not -path '*/__pycache__/*') \
           CMakeLists.txt pyproject.toml

.PHONY: all demo test setup system-deps cpp-test py-test lint format bench clean

all: test

demo: setup
	$(VENV)/bin/journeysim demo --out demo-retention.png

test: setup lint cpp-test py-test

setup: system-deps $(VENV)/.installed

# Eigen 3.4, Boost (Random is header-only), Catch2, clang-format and chromium
# (the HTML report's browser test) from Debian's packages.
system-deps:
	@missing=""; \
	[ -f /usr/include/eigen3/Eigen/Core ] || missing="$$missing libeigen3-dev"; \
	[ -f /usr/include/boost/random/mersenne_twister.hpp ] || missing="$$missing libboost-dev"; \
	[ -f /usr/include/catch2/catch.hpp ] || missing="$$missing catch2"; \
	command -v clang-format >/dev/null || missing="$$missing clang-format"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q cmake ninja

$(VENV)/.installed: $(VENV)/bin/python $(SOURCES)
	$(PY) -m pip install -q ".[test,dev]" --config-settings=cmake.define.JOURNEYSIM_WERROR=ON
	touch $@

cpp-test: system-deps $(VENV)/bin/python
	$(VENV)/bin/cmake -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) \
	  -DJOURNEYSIM_BUILD_PYTHON=OFF -DJOURNEYSIM_BUILD_TESTS=ON -DJOURNEYSIM_WERROR=ON >/dev/null
	$(VENV)/bin/cmake --build $(CPP_BUILD) -j $(JOBS)
	cd $(CPP_BUILD) && ../../$(VENV)/bin/ctest --output-on-failure -j $(JOBS)

py-test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check python tests benchmarks
	$(VENV)/bin/ruff format --check python tests benchmarks
	clang-format --dry-run --Werror $$(find core bindings tests/cpp -name '*.cpp' -o -name '*.hpp')

format: $(VENV)/.installed
	$(VENV)/bin/ruff format python tests benchmarks
	$(VENV)/bin/ruff check --fix python tests benchmarks
	clang-format -i $$(find core bindings tests/cpp -name '*.cpp' -o -name '*.hpp')

bench: setup
	$(PY) benchmarks/bench_exact.py
	$(PY) benchmarks/bench_simulate.py
	$(PY) benchmarks/bench_compare.py
	$(PY) benchmarks/bench_fit.py

clean:
	rm -rf build $(VENV) demo-retention.png
