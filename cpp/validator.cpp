// CNN detection validator (spec 02 §5). Section numbers below refer to spec 02.
#include "validator.hpp"

#include "cnn_kernels.hpp"
#include "color.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace fastclnf::validator {

namespace {

constexpr int kGridPixels = kGrid * kGrid;

}  // namespace

void finalise(View& v, int n_landmarks) {
    auto need = [](bool ok, const char* what) {
        if (!ok) throw std::invalid_argument(what);
    };
    need(v.triangle_id.size() == kGridPixels && v.pixel_mask.size() == kGridPixels,
         "triangle_id and pixel_mask must be 60 x 60");
    need(!v.triangles.empty() && v.triangles.size() % 3 == 0, "triangulation must be T x 3");
    const int n_tri = static_cast<int>(v.triangles.size() / 3);
    need(v.alpha.size() == v.triangles.size() && v.beta.size() == v.triangles.size(),
         "alpha and beta must be T x 3");
    for (int t : v.triangles) need(t >= 0 && t < n_landmarks, "triangle vertex out of range");
    v.pixels.clear();
    for (int x = 0; x < kGrid; ++x)  // column-major pixel order (§5.3 step 1)
        for (int y = 0; y < kGrid; ++y) {
            const int p = y * kGrid + x;
            if (v.pixel_mask[p] == 0) continue;
            need(v.triangle_id[p] >= 0 && v.triangle_id[p] < n_tri, "masked pixel without a triangle");
            v.pixels.push_back(p);
        }
    need(!v.pixels.empty(), "empty pixel mask");
    std::vector<int> q_of(kGridPixels, -1);
    for (std::size_t q = 0; q < v.pixels.size(); ++q) q_of[v.pixels[q]] = static_cast<int>(q);
    v.warp_index.clear();
    v.warp_tri.clear();
    v.warp_x.clear();
    v.warp_y.clear();
    for (int t = 0; t < n_tri; ++t) {
        std::size_t n_t = 0;
        for (int p = 0; p < kGridPixels; ++p) {
            if (q_of[p] < 0 || v.triangle_id[p] != t) continue;
            v.warp_index.push_back(q_of[p]);
            v.warp_tri.push_back(t);
            v.warp_x.push_back(static_cast<float>(p % kGrid + v.min_x));
            v.warp_y.push_back(static_cast<float>(p / kGrid + v.min_y));
            ++n_t;
        }
        for (; n_t % cnn::kWarpGroup != 0; ++n_t) {
            v.warp_index.push_back(static_cast<int>(v.pixels.size()));
            v.warp_tri.push_back(t);
            v.warp_x.push_back(v.warp_x.back());
            v.warp_y.push_back(v.warp_y.back());
        }
    }
    need(v.mean_img.size() == v.pixels.size() && v.std_img.size() == v.pixels.size(),
         "mean_img/std_img length differs from the number of masked pixels");
    for (const cnn::Layer& L : v.net) cnn::check_layer(L);
    const cnn::Tensor out = cnn::output_shape(v.net, 1, kGrid, kGrid);
    need(out.flat && out.c >= 1, "validator CNN must map 1x60x60 to a vector");
}

int choose_view(const Validator& v, double rx, double ry, double rz) {
    int best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < v.views.size(); ++i) {
        const auto& o = v.views[i].orientation;
        const double d = std::sqrt((o[0] - rx) * (o[0] - rx) + (o[1] - ry) * (o[1] - ry) + (o[2] - rz) * (o[2] - rz));
        if (d < best_d) {  // strict: the first of equally near views wins
            best_d = d;
            best = static_cast<int>(i);
        }
    }
    return best;
}

namespace {

// Per-call buffers; one set per thread (validate may run on several threads at once).
struct Scratch {
    std::vector<float> coef, f, g, input;
    cnn::Workspace ws;
    cnn::Tensor out;
};

// network_input into s.input (kGridPixels floats); false in the degenerate case.
bool make_input(const View& view, const ImageU8& gray, const float* lm, int n, Scratch& s) {
    const int rows = gray.rows, cols = gray.cols, stride = gray.stride;
    // §5.1 step 2: ROI from the landmark bounding box, ±3 px, truncated and clamped.
    float min_x = lm[0], max_x = lm[0], min_y = lm[1], max_y = lm[1];
    for (int i = 1; i < n; ++i) {
        min_x = std::min(min_x, lm[2 * i]);
        max_x = std::max(max_x, lm[2 * i]);
        min_y = std::min(min_y, lm[2 * i + 1]);
        max_y = std::max(max_y, lm[2 * i + 1]);
    }
    int x0 = static_cast<int>(min_x - 3.f), x1 = static_cast<int>(max_x + 3.f);
    int y0 = static_cast<int>(min_y - 3.f), y1 = static_cast<int>(max_y + 3.f);
    x0 = std::max(x0, 0);
    y0 = std::max(y0, 0);
    x1 = std::min(x1, cols - 1);
    y1 = std::min(y1, rows - 1);
    if (x1 - x0 <= 1 || y1 - y0 <= 1) return false;
    // Quirk: the crop is columns x0 … x1−1 and rows y0 … y1−1 (max excluded); samples beyond it
    // read the constant-0 border.
    const int crop_w = x1 - x0, crop_h = y1 - y0;
    if (gray.lazy) gray.lazy->ensure(x0, y0, x1, y1);
    const std::uint8_t* crop = gray.data + static_cast<std::size_t>(y0) * stride + x0;

    // §5.2 step 1: per-triangle affine coefficients from the shifted source points (float).
    const int n_tri = static_cast<int>(view.triangles.size() / 3);
    s.coef.resize(static_cast<std::size_t>(n_tri) * 6);
    float* coef = s.coef.data();
    const float fx0 = static_cast<float>(x0), fy0 = static_cast<float>(y0);
    for (int t = 0; t < n_tri; ++t) {
        const int i = view.triangles[3 * t], j = view.triangles[3 * t + 1], k = view.triangles[3 * t + 2];
        const float c1 = lm[2 * i] - fx0, c2 = (lm[2 * j] - fx0) - c1, c3 = (lm[2 * k] - fx0) - c1;
        const float c4 = lm[2 * i + 1] - fy0, c5 = (lm[2 * j + 1] - fy0) - c4, c6 = (lm[2 * k + 1] - fy0) - c4;
        const float* a = &view.alpha[3 * t];
        const float* b = &view.beta[3 * t];
        float* o = &coef[6 * t];
        o[0] = c1 + c2 * a[0] + c3 * b[0];
        o[1] = c2 * a[1] + c3 * b[1];
        o[2] = c2 * a[2] + c3 * b[2];
        o[3] = c4 + c5 * a[0] + c6 * b[0];
        o[4] = c5 * a[1] + c6 * b[1];
        o[5] = c5 * a[2] + c6 * b[2];
    }

    // §5.2 steps 2–3 and §5.3 step 1: warp the masked pixels (in View::warp_index order) into
    // column-major order. The kernel's 32-bit reads may take two bytes past a sampled crop row:
    // the crop ends at least one column and one row before the image, so those bytes are image
    // memory.
    const std::size_t N = view.pixels.size();
    s.f.resize(N + 1);  // + the padding entries' slot
    float* f = s.f.data();
    cnn::cnn_kernels().warp(coef, view.warp_tri.data(), view.warp_x.data(), view.warp_y.data(),
                            view.warp_index.data(), static_cast<int>(view.warp_index.size()), crop, crop_h, crop_w,
                            stride, f);

    // §5.3 steps 2–3: local (double mean / population std, zero std → 1), then global.
    s.g.resize(N);
    cnn::cnn_kernels().standardise(f, static_cast<int>(N), view.mean_img.data(), view.std_img.data(), s.g.data());
    s.input.assign(kGridPixels, 0.f);  // §5.3 step 4: unmasked pixels stay 0
    for (std::size_t q = 0; q < N; ++q) s.input[view.pixels[q]] = s.g[q];
    return true;
}

Scratch& thread_scratch() {
    thread_local Scratch s;
    return s;
}

}  // namespace

std::vector<float> network_input(const View& view, const ImageU8& gray, const float* lm, int n,
                                 bool& ok) {
    Scratch& s = thread_scratch();
    ok = make_input(view, gray, lm, n, s);
    return ok ? s.input : std::vector<float>{};
}

float validate(const Validator& v, const ImageU8& gray, const float* landmarks, int n, double rx,
               double ry, double rz) {
    if (v.views.empty()) throw std::invalid_argument("validator has no views");
    const View& view = v.views[choose_view(v, rx, ry, rz)];
    Scratch& s = thread_scratch();
    if (!make_input(view, gray, landmarks, n, s)) return 0.f;
    cnn::forward(view.net, s.input.data(), 1, kGrid, kGrid, s.out, s.ws);
    const cnn::Tensor& t = s.out;
    // §5.4: argmax of the bins (first wins) → dec → certainty, in double, returned as float.
    const int B = static_cast<int>(t.data.size());
    const int idx = static_cast<int>(std::max_element(t.data.begin(), t.data.end()) - t.data.begin());
    const double step = 2.0 / B;
    const double dec = -1.0 + step / 2.0 + idx * step;
    return static_cast<float>(0.5 * (1.0 - dec));
}

}  // namespace fastclnf::validator
