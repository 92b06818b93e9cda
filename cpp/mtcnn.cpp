// MTCNN detection procedure (spec 03 §1.6–1.10). Section numbers below refer to spec 03.
#include "mtcnn.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

// The stages stay separate functions so that profiles show PNet and RNet/ONet apart.
#if defined(__GNUC__) || defined(__clang__)
#define FCL_NOINLINE __attribute__((noinline))
#else
#define FCL_NOINLINE
#endif

namespace fastclnf::mtcnn {

namespace {

constexpr float kT1 = 0.6f, kT2 = 0.7f, kT3 = 0.7f;  // §1.6; no OpenFace caller changes them
constexpr double kPyramidFactor = 0.709;

// OpenCV INTER_LINEAR on float32 (spec 03 §0): the source coordinate (d + 0.5)·scale − 0.5 in
// double with scale = 1/(out/in), cast to float; weights 1 − f and f in float. Columns are clamped
// with f = 0 (exact copy); rows are clamped by index only, keeping the weights — OpenCV does that
// and the result differs from f = 0 by at most float rounding. The source is read through
// fetch(y, x) → float, so 8-bit images (any channel layout) and zero-padded crops are resized
// without a float copy; uint8 → float is exact, so the result is the same as from a float image.
// Buffers are kept between calls.
class Resizer {
public:
    void set_columns(int w, int ow) {
        w_ = w;
        ow_ = ow;
        const double scale_x = 1.0 / (static_cast<double>(ow) / w);
        xofs_.resize(ow);
        xa_.resize(2 * static_cast<std::size_t>(ow));
        xmax_ = ow;  // columns from xmax on copy S[w−1]
        for (int dx = 0; dx < ow; ++dx) {
            float fx = static_cast<float>((dx + 0.5) * scale_x - 0.5);
            int sx = static_cast<int>(std::floor(fx));
            fx -= static_cast<float>(sx);
            if (sx < 0) {
                fx = 0.f;
                sx = 0;
            }
            if (sx + 1 >= w) {
                xmax_ = std::min(xmax_, dx);
                fx = 0.f;
                sx = w - 1;
            }
            xofs_[dx] = sx;
            xa_[2 * dx] = 1.f - fx;
            xa_[2 * dx + 1] = fx;
        }
        row0_.resize(ow);
        row1_.resize(ow);
    }

    // D (oh × ow) from a source of h rows (and the w columns of set_columns); normalise applies
    // (v − 127.5)/128 as spec 03 §1.6 step 3.2 does after the resize.
    template <class Fetch>
    void run(Fetch fetch, int h, float* D, int oh, bool normalise) {
        const double scale_y = 1.0 / (static_cast<double>(oh) / h);
        const int ow = ow_;
        auto hresize = [&](int y, float* d) {
            for (int dx = 0; dx < xmax_; ++dx)
                d[dx] = fetch(y, xofs_[dx]) * xa_[2 * dx] + fetch(y, xofs_[dx] + 1) * xa_[2 * dx + 1];
            for (int dx = xmax_; dx < ow; ++dx) d[dx] = fetch(y, xofs_[dx]);
        };
        int r0_loaded = -1, r1_loaded = -1;
        for (int dy = 0; dy < oh; ++dy) {
            float fy = static_cast<float>((dy + 0.5) * scale_y - 0.5);
            const int sy = static_cast<int>(std::floor(fy));
            fy -= static_cast<float>(sy);
            const int ya = std::clamp(sy, 0, h - 1), yb = std::clamp(sy + 1, 0, h - 1);
            // Reuse horizontally resized rows between consecutive output rows.
            if (ya == r1_loaded && ya != r0_loaded) {
                std::swap(row0_, row1_);
                std::swap(r0_loaded, r1_loaded);
            }
            if (r0_loaded != ya) {
                hresize(ya, row0_.data());
                r0_loaded = ya;
            }
            if (r1_loaded != yb) {
                hresize(yb, row1_.data());
                r1_loaded = yb;
            }
            const float b0 = 1.f - fy, b1 = fy;
            float* d = D + static_cast<std::size_t>(dy) * ow;
            const float* r0 = row0_.data();
            const float* r1 = row1_.data();
            if (normalise)
                for (int dx = 0; dx < ow; ++dx) d[dx] = (r0[dx] * b0 + r1[dx] * b1 - 127.5f) * 0.0078125f;
            else
                for (int dx = 0; dx < ow; ++dx) d[dx] = r0[dx] * b0 + r1[dx] * b1;
        }
    }

private:
    int w_ = 0, ow_ = 0, xmax_ = 0;
    std::vector<int> xofs_;
    std::vector<float> xa_, row0_, row1_;
};

// A candidate box with the regression of the net that scored it.
struct Candidate {
    Box box;
    float reg[4] = {0, 0, 0, 0};
};

struct IRect {
    int x, y, w, h;
};

// OpenCV's float→int rect conversion: cvRound (round half to even) per field (§0).
IRect to_irect(const Box& b) {
    return {static_cast<int>(std::nearbyint(b.x)), static_cast<int>(std::nearbyint(b.y)),
            static_cast<int>(std::nearbyint(b.w)), static_cast<int>(std::nearbyint(b.h))};
}

// §1.6 step 3.3: face probability from the two logits, float32.
inline float face_prob(float o0, float o1) { return 1.f / (1.f + std::exp(o0 - o1)); }

std::vector<Box> boxes_of(const std::vector<Candidate>& c) {
    std::vector<Box> b(c.size());
    for (std::size_t i = 0; i < c.size(); ++i) b[i] = c[i].box;
    return b;
}

// Buffers of one detect() call, reused across scales and candidates.
struct Scratch {
    Resizer resizer;
    cnn::Workspace ws;
    cnn::Tensor in, out;
    std::vector<float> vectors, head_out;  // RNet/ONet head inputs and outputs of a batch
};

// §1.8: the (h+1) × (w+1) patch covering image columns x−1 … x+w−1 and rows y−1 … y+h−1, zero
// outside the image, resized to side × side and normalised into s.in (3 planes). Returns false
// when the patch does not touch the image (OpenCV would throw there; we drop the box). The
// patch is never built: the resize reads the image through it.
bool crop_patch(const ImageView& img, const Box& b, int side, Scratch& s) {
    const int x = static_cast<int>(b.x), y = static_cast<int>(b.y);
    const int w = static_cast<int>(b.w), h = static_cast<int>(b.h);
    if (w < 0 || h < 0) return false;
    const int pw = w + 1, ph = h + 1;
    const int x0 = x - 1, y0 = y - 1;
    const int cx0 = std::max(0, x0), cy0 = std::max(0, y0);
    const int cx1 = std::min(img.cols, x0 + pw), cy1 = std::min(img.rows, y0 + ph);  // exclusive
    if (cx0 >= cx1 || cy0 >= cy1) return false;
    s.in.c = 3;
    s.in.h = s.in.w = side;
    s.in.flat = false;
    s.in.data.resize(static_cast<std::size_t>(3) * side * side);
    s.resizer.set_columns(pw, side);
    const bool inside = cx0 == x0 && cy0 == y0 && cx1 == x0 + pw && cy1 == y0 + ph;
    const std::ptrdiff_t rs = img.row_stride, ps = img.pix_stride;
    for (int c = 0; c < 3; ++c) {
        float* out = s.in.data.data() + static_cast<std::size_t>(c) * side * side;
        if (inside) {  // the usual case: no bounds checks per sample
            const std::uint8_t* base = img.p + img.chan[c] + y0 * rs + x0 * ps;
            s.resizer.run([base, rs, ps](int py, int px) { return static_cast<float>(base[py * rs + px * ps]); },
                          ph, out, side, true);
            continue;
        }
        const std::uint8_t* base = img.p + img.chan[c];
        auto fetch = [&](int py, int px) -> float {
            const int iy = y0 + py, ix = x0 + px;
            if (iy < cy0 || iy >= cy1 || ix < cx0 || ix >= cx1) return 0.f;
            return static_cast<float>(base[iy * rs + ix * ps]);
        };
        s.resizer.run(fetch, ph, out, side, true);
    }
    return true;
}

// Runs RNet or ONet (`side` 24 / 48) on each box; keeps boxes with p ≥ thr, taking the net's
// score and regression (§1.6 steps 6.1–6.2, 7.1–7.2). The convolutional trunk runs per box, the
// fully connected head on up to kBatch boxes at once (its weights are the bulk of the memory
// traffic: 1.2 MB for ONet's first FC layer).
FCL_NOINLINE std::vector<Candidate> refine(const cnn::Net& net, const ImageView& img,
                                                        const std::vector<Candidate>& in, int side, float thr,
                                                        Scratch& s) {
    constexpr int kBatch = 16;
    std::vector<Candidate> kept;
    std::vector<const Candidate*> batch;
    std::size_t head = net.size();
    int n_in = 0;
    auto keep = [&](const Candidate& cand, const float* o) {
        const float p = face_prob(o[0], o[1]);
        if (p >= thr) {
            Candidate k;
            k.box = cand.box;
            k.box.score = p;
            std::copy(o + 2, o + 6, k.reg);
            kept.push_back(k);
        }
    };
    auto flush = [&]() {
        if (batch.empty()) return;
        const int dim = cnn::forward_head(net, head, s.vectors.data(), static_cast<int>(batch.size()), n_in,
                                          s.head_out, s.ws);
        for (std::size_t j = 0; j < batch.size(); ++j) keep(*batch[j], s.head_out.data() + j * dim);
        batch.clear();
    };
    for (const Candidate& cand : in) {
        if (!crop_patch(img, cand.box, side, s)) continue;
        const std::size_t at = cnn::forward_trunk(net, s.in.data.data(), 3, side, side, s.out, s.ws);
        if (at == net.size()) {  // no vector head (not the case for OpenFace's nets)
            keep(cand, s.out.data.data());
            continue;
        }
        head = at;
        n_in = s.out.c;
        s.vectors.resize(static_cast<std::size_t>(kBatch) * n_in);
        std::copy(s.out.data.begin(), s.out.data.end(), s.vectors.begin() + batch.size() * n_in);
        batch.push_back(&cand);
        if (static_cast<int>(batch.size()) == kBatch) flush();
    }
    flush();
    return kept;
}

// §1.6 step 3 for one scale: resize, normalise, PNet, candidates column by column.
FCL_NOINLINE std::vector<Candidate> pnet_scale(const cnn::Net& pnet, const ImageView& img, double scale, Scratch& s) {
    const int hs = static_cast<int>(std::ceil(img.rows * scale));
    const int ws_ = static_cast<int>(std::ceil(img.cols * scale));
    std::vector<Candidate> out;
    if (hs < 12 || ws_ < 12) return out;  // PNet needs 12 × 12; never happens for n ≥ 1 scales
    s.in.data.resize(static_cast<std::size_t>(3) * hs * ws_);
    s.resizer.set_columns(img.cols, ws_);
    for (int c = 0; c < 3; ++c) {
        const std::uint8_t* base = img.p + img.chan[c];
        const std::ptrdiff_t rs = img.row_stride, ps = img.pix_stride;
        s.resizer.run([base, rs, ps](int y, int x) { return static_cast<float>(base[y * rs + x * ps]); }, img.rows,
                      s.in.data.data() + static_cast<std::size_t>(c) * hs * ws_, hs, true);
    }
    cnn::forward(pnet, s.in.data.data(), 3, hs, ws_, s.out, s.ws);
    const cnn::Tensor& t = s.out;
    const std::size_t plane = static_cast<std::size_t>(t.h) * t.w;
    const float sc = static_cast<float>(scale);
    for (int x = 0; x < t.w; ++x)
        for (int y = 0; y < t.h; ++y) {
            const std::size_t i = static_cast<std::size_t>(y) * t.w + x;
            const float p = face_prob(t.data[i], t.data[plane + i]);
            if (!(p >= kT1)) continue;
            // §1.6 step 3.4: float32 division by the float32 scale, then truncation.
            const int x1 = static_cast<int>(static_cast<float>(2 * x + 1) / sc);
            const int x2 = static_cast<int>(static_cast<float>(2 * x + 12) / sc);
            const int y1 = static_cast<int>(static_cast<float>(2 * y + 1) / sc);
            const int y2 = static_cast<int>(static_cast<float>(2 * y + 12) / sc);
            Candidate c;
            c.box = {static_cast<float>(x1), static_cast<float>(y1), static_cast<float>(x2 - x1),
                     static_cast<float>(y2 - y1), p};
            for (int k = 0; k < 4; ++k) c.reg[k] = t.data[(2 + k) * plane + i];
            out.push_back(c);
        }
    return out;
}

template <typename T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<int>& idx) {
    std::vector<T> out;
    out.reserve(idx.size());
    for (int i : idx) out.push_back(v[i]);
    return out;
}

}  // namespace

void check_nets(const Nets& nets) {
    for (const cnn::Net* n : {&nets.pnet, &nets.rnet, &nets.onet})
        for (const cnn::Layer& L : *n) cnn::check_layer(L);
    const cnn::Tensor p = cnn::output_shape(nets.pnet, 3, 12, 12);
    if (p.flat || p.c != 6) throw std::invalid_argument("PNet must map 3x12x12 to 6 maps");
    const cnn::Tensor r = cnn::output_shape(nets.rnet, 3, 24, 24);
    if (!r.flat || r.c < 6) throw std::invalid_argument("RNet must map 3x24x24 to a vector of >= 6");
    const cnn::Tensor o = cnn::output_shape(nets.onet, 3, 48, 48);
    if (!o.flat || o.c < 6) throw std::invalid_argument("ONet must map 3x48x48 to a vector of >= 6");
}

void resize_bilinear(const float* src, int c, int h, int w, float* dst, int oh, int ow) {
    Resizer r;
    r.set_columns(w, ow);
    for (int ch = 0; ch < c; ++ch) {
        const float* S = src + static_cast<std::size_t>(ch) * h * w;
        r.run([S, w](int y, int x) { return S[static_cast<std::size_t>(y) * w + x]; }, h,
              dst + static_cast<std::size_t>(ch) * oh * ow, oh, false);
    }
}

std::vector<int> nms(const std::vector<Box>& boxes, float thr, Overlap mode) {
    const int n = static_cast<int>(boxes.size());
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    // Ascending and stable; taking from the back makes the later of equal scores win (§1.7).
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return boxes[a].score < boxes[b].score; });
    std::vector<IRect> r(n);
    for (int i = 0; i < n; ++i) r[i] = to_irect(boxes[i]);
    std::vector<int> keep;
    while (!order.empty()) {
        const int i = order.back();
        order.pop_back();
        keep.push_back(i);
        const IRect& a = r[i];
        const int area_a = a.w * a.h;
        std::size_t m = 0;
        for (std::size_t k = 0; k < order.size(); ++k) {
            const IRect& b = r[order[k]];
            // cv::Rect intersection: empty when width or height ≤ 0.
            const int x1 = std::max(a.x, b.x), y1 = std::max(a.y, b.y);
            const int iw = std::min(a.x + a.w, b.x + b.w) - x1;
            const int ih = std::min(a.y + a.h, b.y + b.h) - y1;
            const int inter = (iw <= 0 || ih <= 0) ? 0 : iw * ih;
            const int area_b = b.w * b.h;
            const int den = mode == Overlap::Union ? area_a + area_b - inter : std::min(area_a, area_b);
            const float overlap = static_cast<float>(inter) / static_cast<float>(den);
            if (!(overlap > thr)) order[m++] = order[k];
        }
        order.resize(m);
    }
    return keep;
}

Box apply_regression(const Box& b, const float reg[4], bool add1) {
    const IRect r = to_irect(b);
    const int w = r.w + (add1 ? 1 : 0), h = r.h + (add1 ? 1 : 0);
    // Mixed int/float C arithmetic as in §1.7: (x + w) is an int before the float term is added.
    const float x1 = static_cast<float>(r.x) + reg[0] * static_cast<float>(w);
    const float y1 = static_cast<float>(r.y) + reg[1] * static_cast<float>(h);
    const float x2 = static_cast<float>(r.x + w) + reg[2] * static_cast<float>(w);
    const float y2 = static_cast<float>(r.y + h) + reg[3] * static_cast<float>(h);
    return {x1, y1, x2 - x1, y2 - y1, b.score};
}

Box square(const Box& b) {
    const double m = std::max(b.w, b.h);
    const int x = static_cast<int>(static_cast<double>(b.x) + 0.5 * (static_cast<double>(b.w) - m));
    const int y = static_cast<int>(static_cast<double>(b.y) + 0.5 * (static_cast<double>(b.h) - m));
    const int s = static_cast<int>(m);
    return {static_cast<float>(x), static_cast<float>(y), static_cast<float>(s), static_cast<float>(s), b.score};
}

int pyramid_levels(int m, int min_face) {
    if (m <= 0) return 0;
    const double n = std::floor(std::log(static_cast<double>(min_face) / m) / std::log(kPyramidFactor)) + 1.0;
    return n > 0 ? static_cast<int>(n) : 0;
}

std::vector<Box> detect(const Nets& nets, const ImageView& img) {
    std::vector<Box> result;
    const int levels = pyramid_levels(std::min(img.rows, img.cols));  // §1.10: < 1 → no faces
    if (levels < 1) return result;

    // §1.6 steps 2–4: pyramid, PNet, per-scale NMS (union 0.5), concatenated in scale order. The
    // nets see planar R, G, B values 0..255 (step 1), read from the 8-bit image as they are used.
    std::vector<Candidate> all;
    Scratch scratch;
    for (int i = 0; i < levels; ++i) {
        const double scale = (12.0 / 60.0) * std::pow(kPyramidFactor, i);
        std::vector<Candidate> c = pnet_scale(nets.pnet, img, scale, scratch);
        for (int k : nms(boxes_of(c), 0.5f, Overlap::Union)) all.push_back(c[k]);
    }
    if (all.empty()) return result;

    // Step 5: cross-scale NMS (union 0.7), PNet regression without +1, square.
    std::vector<Candidate> cur = pick(all, nms(boxes_of(all), 0.7f, Overlap::Union));
    for (Candidate& c : cur) c.box = square(apply_regression(c.box, c.reg, false));

    // Step 6: RNet; NMS on the still uncorrected boxes, then regression without +1, square.
    cur = refine(nets.rnet, img, cur, 24, kT2, scratch);
    cur = pick(cur, nms(boxes_of(cur), 0.7f, Overlap::Union));
    for (Candidate& c : cur) c.box = square(apply_regression(c.box, c.reg, false));

    // Step 7: ONet; regression with +1, then min-NMS on the corrected float boxes; no squaring.
    cur = refine(nets.onet, img, cur, 48, kT3, scratch);
    for (Candidate& c : cur) c.box = apply_regression(c.box, c.reg, true);
    const std::vector<int> keep = nms(boxes_of(cur), 0.7f, Overlap::Min);

    // Step 8–9: conversion to the CLNF initialisation box (double constants), NMS order.
    for (int k : keep) {
        const Box& b = cur[k].box;
        const double w = b.w, h = b.h;
        result.push_back({static_cast<float>(b.x - 0.0075 * w), static_cast<float>(b.y + 0.2459 * h),
                          static_cast<float>(1.0323 * w), static_cast<float>(0.7751 * h), b.score});
    }
    return result;
}

}  // namespace fastclnf::mtcnn
