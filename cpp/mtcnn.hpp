// MTCNN face detector as OpenFace 2.2 runs it (spec 03 §1.6–1.10): image pyramid → PNet →
// per-scale and cross-scale NMS → RNet → ONet → conversion to the CLNF initialisation box.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cnn.hpp"

namespace fastclnf::mtcnn {

struct Nets {
    cnn::Net pnet, rnet, onet;
};

// Throws std::invalid_argument unless PNet maps 3×12×12 to 6 maps, RNet 3×24×24 to a vector of
// ≥ 6 and ONet 3×48×48 to a vector of ≥ 6 (spec 03 §1.4).
void check_nets(const Nets& nets);

// A float box (x, y, w, h) with a score.
struct Box {
    float x = 0, y = 0, w = 0, h = 0;
    float score = 0;
};

// An 8-bit image in any layout: the value of channel c (0 = R, 1 = G, 2 = B) at row y, column x
// is p[y·row_stride + x·pix_stride + chan[c]] (strides in bytes, may be negative). Gray: chan all
// 0; BGR: chan = {2, 1, 0}, pix_stride 3; BGRA: pix_stride 4.
struct ImageView {
    const std::uint8_t* p = nullptr;
    int rows = 0, cols = 0;
    std::ptrdiff_t row_stride = 0, pix_stride = 1;
    std::ptrdiff_t chan[3] = {0, 0, 0};
};

// Bilinear resize of every map (spec 03 §0, OpenCV INTER_LINEAR on float32, no antialiasing).
void resize_bilinear(const float* src, int c, int h, int w, float* dst, int oh, int ow);

// NMS (spec 03 §1.7): returns the indices kept, in selection order (highest score first; among
// equal scores the later input wins). Overlap on rint-rounded integer rects, removal if > thr.
enum class Overlap { Union, Min };
std::vector<int> nms(const std::vector<Box>& boxes, float thr, Overlap mode);

// Box regression (spec 03 §1.7) on the rint-rounded rect; add1 widens it by one pixel first.
Box apply_regression(const Box& b, const float reg[4], bool add1);

// Squares a box around its centre; integer-valued result (spec 03 §1.7 "rectify").
Box square(const Box& b);

// Number of pyramid scales for min(H, W) = m (spec 03 §1.6 step 2); ≤ 0 means no detection.
int pyramid_levels(int m, int min_face = 60);

// Full detection on an 8-bit image view (gray, or R, G, B read through the view's channel
// offsets; no copy of the image is made). Returns the converted CLNF boxes (spec 03 §1.6 step 8)
// in descending ONet score, score = ONet p.
std::vector<Box> detect(const Nets& nets, const ImageView& image);

}  // namespace fastclnf::mtcnn
