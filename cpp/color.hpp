// Colour conversion of input frames (spec 02 §6.1): OpenFace works on 8-bit gray made by
// OpenCV 4.x's BGR->gray, Y = (9798 R + 19235 G + 3735 B + 16384) >> 15.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "common.hpp"

namespace fastclnf {

// `src` is rows x cols pixels of `channels` (3 = BGR, 4 = BGRA, alpha ignored) bytes each,
// `src_stride` bytes between rows; `dst` is rows x cols, contiguous.
void bgr_to_gray(const std::uint8_t* src, int rows, int cols, int channels, long src_stride,
                 std::uint8_t* dst);

// A colour frame's gray, converted region by region as the fit asks for it. A tracked face
// covers a small part of a frame and the fit and the validator read only the pixels under their
// warps, so converting the whole frame (a third of a tracked frame's time at 1080p) is mostly
// wasted. Each row keeps one converted column interval [lo, hi), widened to cover every request,
// so a pixel is converted at most once and to exactly the value bgr_to_gray() gives it.
// The source must outlive this object; one thread at a time (a tracker's frame).
class LazyGray {
public:
    // poison: fill the buffer with a marker first (tests: a read that skipped ensure() then
    // shows up as a wrong value instead of whatever the allocator left there).
    LazyGray(const std::uint8_t* src, int rows, int cols, int channels, long src_stride,
             bool poison = false);

    // Converts what is missing of columns [x0, x1) x rows [y0, y1), clamped to the image.
    void ensure(int x0, int y0, int x1, int y1);
    void ensure_all() { ensure(0, 0, cols_, rows_); }

    // The gray image; pixels outside the regions ensured so far are undefined.
    ImageU8 image() { return {gray_.get(), rows_, cols_, cols_, this}; }
    int rows() const { return rows_; }
    int cols() const { return cols_; }
    long converted() const { return converted_; }  // pixels converted so far

private:
    const std::uint8_t* src_;
    int rows_, cols_, channels_;
    long src_stride_;
    std::unique_ptr<std::uint8_t[]> gray_;
    std::vector<int> lo_, hi_;
    long converted_ = 0;
};

// Makes sure the pixels a bilinear sampler may read for sample positions inside the box
// [xmin, xmax] x [ymin, ymax] (image coordinates) exist; a no-op for an eager image.
inline void ensure_region(const ImageU8& img, float xmin, float ymin, float xmax, float ymax) {
    if (!img.lazy) return;
    // Non-finite or huge boxes (a diverged fit) fall back to the whole image.
    if (!(std::isfinite(xmin) && std::isfinite(ymin) && std::isfinite(xmax) && std::isfinite(ymax)) ||
        std::fabs(xmin) > 1e8f || std::fabs(ymin) > 1e8f || std::fabs(xmax) > 1e8f ||
        std::fabs(ymax) > 1e8f) {
        img.lazy->ensure_all();
        return;
    }
    // floor() of a sample and the pixel after it, with a pixel of slack on each side for the
    // samplers' fixed-point rounding of the position.
    img.lazy->ensure(static_cast<int>(std::floor(xmin)) - 1, static_cast<int>(std::floor(ymin)) - 1,
                     static_cast<int>(std::floor(xmax)) + 3, static_cast<int>(std::floor(ymax)) + 3);
}
inline void ensure_region(const ImageF&, float, float, float, float) {}

}  // namespace fastclnf
