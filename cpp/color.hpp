// Colour conversion of input frames (spec 02 §6.1): OpenFace works on 8-bit gray made by
// OpenCV 4.x's BGR->gray, Y = (9798 R + 19235 G + 3735 B + 16384) >> 15.
#pragma once
#include <cstdint>

namespace fastclnf {

// `src` is rows x cols pixels of `channels` (3 = BGR, 4 = BGRA, alpha ignored) bytes each,
// `src_stride` bytes between rows; `dst` is rows x cols, contiguous.
void bgr_to_gray(const std::uint8_t* src, int rows, int cols, int channels, long src_stride,
                 std::uint8_t* dst);

}  // namespace fastclnf
