// Small shared types of the fastclnf core. The core is pure C++17: no Python headers, no global
// mutable state; functions take explicit inputs and write explicit outputs.
#pragma once
#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace fastclnf {

class LazyGray;  // color.hpp

// Global parameters g = (s, rx, ry, rz, tx, ty): scale, Euler angles (pitch, yaw, roll, radians),
// translation in pixels (spec 01 conventions).
using Global = std::array<float, 6>;

// A read-only 2-D grayscale float image, row-major, `stride` elements between rows.
struct ImageF {
    const float* data = nullptr;
    int rows = 0;
    int cols = 0;
    int stride = 0;
};

// The same for an 8-bit image (samples convert to float exactly, so sampling it gives the same
// values as sampling its float copy). With `lazy` set, the pixels are a colour frame's gray
// converted on demand: code that reads a region calls ensure_region() (color.hpp) first.
struct ImageU8 {
    const std::uint8_t* data = nullptr;
    int rows = 0;
    int cols = 0;
    int stride = 0;
    LazyGray* lazy = nullptr;
};

}  // namespace fastclnf
