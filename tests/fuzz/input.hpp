// Reads typed values from a fuzzer's bytes. Past the end it yields zeros, so
// every input decodes to something; the mutator learns which bytes matter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

namespace journeysim::fuzz {

class Input {
public:
  Input(const std::uint8_t *data, std::size_t size) : data_(data), size_(size) {}

  [[nodiscard]] bool empty() const { return pos_ >= size_; }

  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  template <class T> T raw() {
    T v{};
    unsigned char buf[sizeof(T)] = {};
    for (auto &b : buf) b = byte();
    std::memcpy(&v, buf, sizeof(T));
    return v;
  }

  // An integer in [lo, hi] from one byte (or two when the range is wider).
  int small(int lo, int hi) {
    const auto span = static_cast<unsigned>(hi - lo) + 1u;
    const unsigned v = span <= 256u ? byte() : raw<std::uint16_t>();
    return lo + static_cast<int>(v % span);
  }

  bool flag() { return (byte() & 1u) != 0; }

  // A probability-like number, usually tame: a tag byte picks a fraction in
  // [0, 1], an exact 0 or 1, or a raw double (NaN, infinities, negatives, huge,
  // subnormal).
  double number() {
    const std::uint8_t tag = byte();
    switch (tag % 8) {
    case 0:
      return 0.0;
    case 1:
      return 1.0;
    case 2:
    case 3:
    case 4:
      return byte() / 255.0;
    case 5:
      return raw<std::uint16_t>() / 65535.0;
    case 6:
      return special(byte());
    default:
      return raw<double>();
    }
  }

  // A money-like amount: small integers, signs, specials or a raw double.
  double amount() {
    const std::uint8_t tag = byte();
    switch (tag % 6) {
    case 0:
      return 0.0;
    case 1:
    case 2:
      return static_cast<double>(static_cast<std::int8_t>(byte())) * 10.0;
    case 3:
      return special(byte());
    default:
      return raw<double>();
    }
  }

  static double special(std::uint8_t which) {
    constexpr double kSpecials[] = {
        std::numeric_limits<double>::quiet_NaN(),
        std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(),
        -0.0,
        -1.0,
        -1e-300,
        1e-300,
        std::numeric_limits<double>::denorm_min(),
        std::numeric_limits<double>::max(),
        -std::numeric_limits<double>::max(),
        std::numeric_limits<double>::epsilon(),
        1.0 + 1e-12,
        1.0 - 1e-12,
        0.5,
        1e15,
        9e15,
        1e300,
    };
    return kSpecials[which % (sizeof(kSpecials) / sizeof(kSpecials[0]))];
  }

private:
  const std::uint8_t *data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

} // namespace journeysim::fuzz
