#!/bin/sh
# One command from a fresh Debian 12 machine (as root) to the whole test suite: installs
# the packages, builds faxd normally and with AddressSanitizer + UndefinedBehaviorSanitizer,
# and runs every CTest test (unit and end-to-end) against both builds.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
# Two slots per core: most end-to-end tests wait on real-time calls; the CPU-bound ones
# take two slots each (tests/CMakeLists.txt).
slots=$((2 * jobs))
scripts/build.sh build
(cd build && ctest --output-on-failure -j"$slots")
scripts/build.sh build-asan -DFAXD_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-asan && ctest --output-on-failure -j"$slots")
