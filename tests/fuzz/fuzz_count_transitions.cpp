// libFuzzer target: count_transitions (fit.hpp) on raw event arrays: customer,
// period, stage and segment codes that may be unsorted, negative or huge, with
// any tenure pieces, absorbing flags and censoring end.
//
// The contract: std::invalid_argument for input it cannot count, otherwise
// counts that are consistent: none negative, one start per customer run, and
// without carry-forward exactly one move counted per pair of consecutive
// periods. Anything else (a crash, a sanitizer report, a hang) is a bug.
#include "input.hpp"

#include "journeysim/fit.hpp"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <vector>

using namespace journeysim;
using journeysim::fuzz::Input;

namespace {

[[noreturn]] void broken(const char *what) {
  std::fprintf(stderr, "contract violated: %s\n", what);
  std::abort();
}
#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) broken(#cond);                                                        \
  } while (0)

// A code or a time: usually small, sometimes anything an int64 holds.
std::int64_t wide(Input &in) {
  const std::uint8_t tag = in.byte();
  switch (tag % 8) {
  case 0:
    return std::numeric_limits<std::int64_t>::max() - in.byte();
  case 1:
    return std::numeric_limits<std::int64_t>::min() + in.byte();
  case 2:
    return in.raw<std::int64_t>();
  default:
    return static_cast<std::int64_t>(tag / 8) - 2; // -2 .. 29
  }
}

void run(Input &in) {
  const int stages = in.small(-1, 6);
  const int segments = in.small(-1, 3);
  const std::uint8_t flags = in.byte();
  const bool carry_forward = flags & 1u;
  const bool with_segment = flags & 2u;
  const bool sorted = !(flags & 4u); // mostly well-formed logs, to get past checks
  std::vector<int> tenure_starts;
  for (int p = in.small(0, 3), t = 0; p > 0; --p) {
    const std::uint8_t m = in.byte();
    tenure_starts.push_back(m % 16 == 15 ? in.raw<int>() : t);
    t += 1 + m % 5;
  }
  std::vector<bool> absorbing;
  for (int i = in.byte() % 16 == 15 ? in.small(0, 7) : stages; i > 0; --i)
    absorbing.push_back(in.flag());
  const std::int64_t end_period = in.byte() % 4 == 3 ? wide(in) : in.small(0, 40);

  const std::size_t n = in.byte() % 64;
  std::vector<std::int64_t> customer(n), period(n);
  std::vector<std::int32_t> stage(n), segment(n);
  std::int64_t c = 0, t = 0;
  for (std::size_t r = 0; r < n; ++r) {
    if (sorted) {
      const std::uint8_t step = in.byte();
      if (r == 0 || step % 4 == 0) { // next customer
        c += 1 + step % 3;
        t = in.small(-3, 10);
      } else {
        t += 1 + step % 5;
      }
      customer[r] = c;
      period[r] = in.byte() % 32 == 31 ? wide(in) : t;
      stage[r] = in.byte() % 32 == 31 ? static_cast<std::int32_t>(wide(in))
                                      : in.small(0, std::max(stages - 1, 0));
      segment[r] = in.byte() % 32 == 31
                       ? static_cast<std::int32_t>(wide(in))
                       : static_cast<std::int32_t>(c % std::max(segments, 1));
    } else {
      customer[r] = wide(in);
      period[r] = wide(in);
      stage[r] = static_cast<std::int32_t>(wide(in));
      segment[r] = static_cast<std::int32_t>(wide(in));
    }
  }

  TransitionCounts out;
  try {
    out =
        count_transitions(customer.data(), period.data(), stage.data(),
                          with_segment ? segment.data() : nullptr, n, stages, segments,
                          tenure_starts, absorbing, carry_forward, end_period);
  } catch (const std::invalid_argument &) {
    return;
  }
  const auto S = static_cast<std::size_t>(stages), P = tenure_starts.size(),
             G = static_cast<std::size_t>(segments);
  FUZZ_CHECK(out.counts.size() == G * P * S * S);
  FUZZ_CHECK(out.starts.size() == G * S);
  std::int64_t starts = 0;
  for (auto v : out.starts) {
    FUZZ_CHECK(v >= 0);
    starts += v;
  }
  std::int64_t runs = 0, consecutive = 0;
  for (std::size_t r = 0; r < n; ++r) {
    if (r == 0 || customer[r] != customer[r - 1]) {
      ++runs;
    } else if (period[r - 1] < std::numeric_limits<std::int64_t>::max() &&
               period[r] == period[r - 1] + 1 &&
               !absorbing[static_cast<std::size_t>(stage[r - 1])]) {
      ++consecutive;
    }
  }
  FUZZ_CHECK(starts == runs);
  for (auto v : out.counts) FUZZ_CHECK(v >= 0);
  if (!carry_forward) {
    std::int64_t moves = 0;
    for (auto v : out.counts) moves += v; // at most n
    FUZZ_CHECK(moves == consecutive);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  Input in(data, size);
  run(in);
  return 0;
}
