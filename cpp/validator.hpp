// CNN detection validator (spec 02 §5): warps the face onto a 60×60 reference frame, normalises
// it and lets a small CNN estimate how well the landmarks fit. certainty = 1 − (idx + 0.5)/B.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "cnn.hpp"
#include "common.hpp"

namespace fastclnf::validator {

constexpr int kGrid = 60;  // reference frame side (spec 02 §5.2)

// One view of the validator (spec 02 §5.6 step 4).
struct View {
    std::array<double, 3> orientation{};  // radians (pitch, yaw, roll)
    std::vector<float> mean_img, std_img;  // N, masked pixels in column-major order
    cnn::Net net;
    double min_x = 0, min_y = 0;           // reference-frame coordinates of grid pixel (0, 0)
    std::vector<int> triangles;            // T × 3 landmark indices
    std::vector<int> triangle_id;          // 60 × 60, −1 outside
    std::vector<int> pixel_mask;           // 60 × 60, nonzero = warped
    std::vector<float> alpha, beta;        // T × 3
    // Derived at construction (finalise): masked pixels as row·60 + col, column-major order.
    std::vector<int> pixels;
    // The same pixels in the order the warp visits them (cnn::CnnKernels::warp): grouped by
    // triangle, each group row-major (neighbouring grid pixels map to neighbouring image pixels)
    // and padded to a multiple of cnn::kWarpGroup with copies of its last pixel whose index is
    // pixels.size() (a spare slot of the warp's output), so the vector levels take one set of
    // affine coefficients per vector: index into `pixels`, grid coordinates + min_x/min_y,
    // triangle.
    std::vector<int> warp_index, warp_tri;
    std::vector<float> warp_x, warp_y;
};

struct Validator {
    std::vector<View> views;
};

// Derives View::pixels and checks every size (throws std::invalid_argument).
void finalise(View& view, int n_landmarks);

// Index of the view nearest (Euclidean, double) to the rotation, first wins (spec 02 §5.1 step 1).
int choose_view(const Validator& v, double rx, double ry, double rz);

// Certainty in (0, 1) of a fit: `gray` is the 8-bit image, `landmarks` n × 2 interleaved (x, y)
// pixel coordinates, (rx, ry, rz) the PDM rotation. Returns 0 when the landmarks' bounding box
// is degenerate inside the image (spec 02 §5.1).
float validate(const Validator& v, const ImageU8& gray, const float* landmarks, int n_landmarks,
               double rx, double ry, double rz);

// The normalised 60×60 CNN input for a given view (spec 02 §5.1 steps 2–3, §5.3); `ok` false
// (and an empty result) in the degenerate case. Exposed for tests.
std::vector<float> network_input(const View& view, const ImageU8& gray, const float* landmarks,
                                 int n_landmarks, bool& ok);

}  // namespace fastclnf::validator
