// Layer primitives for the MTCNN nets and the CNN validator (spec 03 §1.3, spec 02 §5.4).
#include "cnn.hpp"

#include "cnn_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fastclnf::cnn {

int pooled_size(int n, int k, int s) {
    // float32 division, then C round (half away from zero): OpenFace sizes pool outputs this way.
    const float q = static_cast<float>(n - k) / static_cast<float>(s);
    return static_cast<int>(std::round(q)) + 1;
}

namespace {

std::string layer_name(std::size_t i) { return "layer " + std::to_string(i) + ": "; }

}  // namespace

void check_layer(const Layer& L) {
    auto need = [](bool ok, const char* what) {
        if (!ok) throw std::invalid_argument(what);
    };
    switch (L.kind) {
        case LayerKind::Conv:
            need(L.n_in > 0 && L.n_out > 0 && L.kh > 0 && L.kw > 0, "convolution sizes must be positive");
            need(L.weights.size() == static_cast<std::size_t>(L.n_out) * L.n_in * L.kh * L.kw,
                 "convolution weights do not match n_out × n_in × kh × kw");
            need(L.bias.size() == static_cast<std::size_t>(L.n_out), "convolution bias size != n_out");
            break;
        case LayerKind::FullyConnected:
            need(L.n_in > 0 && L.n_out > 0, "fully connected sizes must be positive");
            need(L.weights.size() == static_cast<std::size_t>(L.n_in) * L.n_out &&
                     L.weights_t.size() == L.weights.size(),
                 "fully connected weights do not match n_in × n_out");
            need(L.bias.size() == static_cast<std::size_t>(L.n_out), "fully connected bias size != n_out");
            break;
        case LayerKind::MaxPool:
            need(L.kx > 0 && L.ky > 0 && L.sx > 0 && L.sy > 0, "max-pool sizes must be positive");
            break;
        case LayerKind::PReLU:
            need(!L.weights.empty(), "PReLU needs slopes");
            break;
        case LayerKind::ReLU:
        case LayerKind::Sigmoid:
            break;
    }
}

Tensor output_shape(const Net& net, int c, int h, int w) {
    Tensor t;
    t.c = c;
    t.h = h;
    t.w = w;
    for (std::size_t i = 0; i < net.size(); ++i) {
        const Layer& L = net[i];
        auto fail = [&](const std::string& why) { throw std::invalid_argument(layer_name(i) + why); };
        switch (L.kind) {
            case LayerKind::Conv:
                if (t.flat || t.c != L.n_in) fail("convolution input has the wrong number of maps");
                if (t.h < L.kh || t.w < L.kw) fail("input smaller than the convolution kernel");
                t.c = L.n_out;
                t.h -= L.kh - 1;
                t.w -= L.kw - 1;
                break;
            case LayerKind::MaxPool:
                if (t.flat) fail("max-pool needs maps");
                t.h = pooled_size(t.h, L.ky, L.sy);
                t.w = pooled_size(t.w, L.kx, L.sx);
                if (t.h < 1 || t.w < 1) fail("max-pool output is empty");
                break;
            case LayerKind::FullyConnected:
                if (!t.flat && t.c == L.n_in) {
                    t.c = L.n_out;  // 1×1 convolution
                } else {
                    if (static_cast<long long>(t.c) * t.h * t.w != L.n_in)
                        fail("fully connected input size != n_in");
                    t.c = L.n_out;
                    t.h = t.w = 1;
                    t.flat = true;
                }
                break;
            case LayerKind::PReLU:
                if (L.weights.size() != static_cast<std::size_t>(t.c)) fail("PReLU slope count != channels");
                break;
            case LayerKind::ReLU:
            case LayerKind::Sigmoid:
                break;
        }
    }
    return t;
}

namespace {

#if defined(__GNUC__) || defined(__clang__)
// 4-float vectors via the GCC/Clang vector extension: SSE on x86-64, NEON on arm64. Plain C++
// loops over a 4×8 register tile are not vectorised by GCC, so the micro-kernel says it directly.
typedef float v4f __attribute__((vector_size(16)));
inline v4f load4(const float* p) {
    v4f v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }
inline v4f splat(float x) { return v4f{x, x, x, x}; }

// C[0..3][0..7] = bias + A[0..3][:]·B[:][0..7]; each output is summed in k order.
inline void kernel_4x8(const float* a0, int K, const float* b, int ldb, const float* bias, float* c,
                       int ldc) {
    const float* a1 = a0 + K;
    const float* a2 = a1 + K;
    const float* a3 = a2 + K;
    v4f c00 = splat(bias[0]), c01 = c00, c10 = splat(bias[1]), c11 = c10;
    v4f c20 = splat(bias[2]), c21 = c20, c30 = splat(bias[3]), c31 = c30;
    for (int k = 0; k < K; ++k, b += ldb) {
        const v4f b0 = load4(b), b1 = load4(b + 4);
        v4f w = splat(a0[k]);
        c00 += w * b0;
        c01 += w * b1;
        w = splat(a1[k]);
        c10 += w * b0;
        c11 += w * b1;
        w = splat(a2[k]);
        c20 += w * b0;
        c21 += w * b1;
        w = splat(a3[k]);
        c30 += w * b0;
        c31 += w * b1;
    }
    store4(c, c00);
    store4(c + 4, c01);
    c += ldc;
    store4(c, c10);
    store4(c + 4, c11);
    c += ldc;
    store4(c, c20);
    store4(c + 4, c21);
    c += ldc;
    store4(c, c30);
    store4(c + 4, c31);
}
#else
inline void kernel_4x8(const float* a0, int K, const float* b, int ldb, const float* bias, float* c,
                       int ldc) {
    float acc[4][8];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 8; ++j) acc[i][j] = bias[i];
    for (int k = 0; k < K; ++k, b += ldb)
        for (int i = 0; i < 4; ++i) {
            const float w = a0[static_cast<std::size_t>(i) * K + k];
            for (int j = 0; j < 8; ++j) acc[i][j] += w * b[j];
        }
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 8; ++j) c[static_cast<std::size_t>(i) * ldc + j] = acc[i][j];
}
#endif

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__)) && \
    !defined(FASTCLNF_DISABLE_AVX2)
// AVX2 variant: 4 rows × 16 columns in 8-float vectors. Multiply and add stay separate (no FMA),
// so every output is bit-identical to kernel_4x8's: same operations, same k order, just wider.
// Selected at run time; wheels keep the x86-64-v2 baseline.
#define FASTCLNF_HAVE_AVX2_KERNEL 1
typedef float v8f __attribute__((vector_size(32)));

__attribute__((target("avx2"))) void kernel_4x16_avx2(const float* a0, int K, const float* b, int ldb,
                                                      const float* bias, float* c, int ldc) {
    const float* a1 = a0 + K;
    const float* a2 = a1 + K;
    const float* a3 = a2 + K;
    // No helper lambdas here: they would not inherit the avx2 target.
    const v8f zero = {0, 0, 0, 0, 0, 0, 0, 0};
    v8f c00 = zero + bias[0], c01 = c00, c10 = zero + bias[1], c11 = c10;
    v8f c20 = zero + bias[2], c21 = c20, c30 = zero + bias[3], c31 = c30;
    for (int k = 0; k < K; ++k, b += ldb) {
        v8f b0, b1;
        std::memcpy(&b0, b, sizeof b0);
        std::memcpy(&b1, b + 8, sizeof b1);
        c00 += a0[k] * b0;  // scalar × vector broadcasts the scalar
        c01 += a0[k] * b1;
        c10 += a1[k] * b0;
        c11 += a1[k] * b1;
        c20 += a2[k] * b0;
        c21 += a2[k] * b1;
        c30 += a3[k] * b0;
        c31 += a3[k] * b1;
    }
    std::memcpy(c, &c00, sizeof c00);
    std::memcpy(c + 8, &c01, sizeof c01);
    c += ldc;
    std::memcpy(c, &c10, sizeof c10);
    std::memcpy(c + 8, &c11, sizeof c11);
    c += ldc;
    std::memcpy(c, &c20, sizeof c20);
    std::memcpy(c + 8, &c21, sizeof c21);
    c += ldc;
    std::memcpy(c, &c30, sizeof c30);
    std::memcpy(c + 8, &c31, sizeof c31);
}

bool cpu_has_avx2() {
    static const bool has = __builtin_cpu_supports("avx2");
    return has;
}
#endif

using Kernel = void (*)(const float*, int, const float*, int, const float*, float*, int);

// The 4 × NR tiles of C, ragged edges through the same kernel on zero-padded copies.
void gemm_tiles(Kernel kernel, int NR, const float* A, int M, int K, const float* B, int ldb, int N,
                const float* bias, float* C, int ldc) {
    constexpr int MR = 4;
    std::vector<float> a_pad, b_pad;
    float c_pad[MR * 16];
    float bias_pad[MR] = {0, 0, 0, 0};
    const int n_full = N - N % NR;
    if (n_full < N) {
        // The last N % NR columns of B, zero-padded to NR.
        b_pad.assign(static_cast<std::size_t>(K) * NR, 0.f);
        for (int k = 0; k < K; ++k)
            std::copy(B + static_cast<std::size_t>(k) * ldb + n_full, B + static_cast<std::size_t>(k) * ldb + N,
                      b_pad.data() + static_cast<std::size_t>(k) * NR);
    }
    for (int m = 0; m < M; m += MR) {
        const int mr = std::min(MR, M - m);
        const float* a = A + static_cast<std::size_t>(m) * K;
        const float* bs = bias + m;
        if (mr < MR) {
            a_pad.assign(static_cast<std::size_t>(MR) * K, 0.f);
            std::copy(a, a + static_cast<std::size_t>(mr) * K, a_pad.data());
            std::copy(bs, bs + mr, bias_pad);
            a = a_pad.data();
            bs = bias_pad;
        }
        float* c = C + static_cast<std::size_t>(m) * ldc;
        for (int n = 0; n < n_full; n += NR) {
            if (mr == MR) {
                kernel(a, K, B + n, ldb, bs, c + n, ldc);
            } else {
                kernel(a, K, B + n, ldb, bs, c_pad, NR);
                for (int i = 0; i < mr; ++i)
                    std::copy(c_pad + i * NR, c_pad + (i + 1) * NR, c + static_cast<std::size_t>(i) * ldc + n);
            }
        }
        if (n_full < N) {
            kernel(a, K, b_pad.data(), NR, bs, c_pad, NR);
            for (int i = 0; i < mr; ++i)
                std::copy(c_pad + i * NR, c_pad + i * NR + (N - n_full),
                          c + static_cast<std::size_t>(i) * ldc + n_full);
        }
    }
}

}  // namespace

void gemm_bias(const float* A, int M, int K, const float* B, int ldb, int N, const float* bias,
               float* C, int ldc) {
    // 4 rows × 8 (or 16 with AVX2) columns of C stay in registers while k runs; each output is
    // bias + Σ_k in k order whichever kernel runs, so results do not depend on the CPU.
#ifdef FASTCLNF_HAVE_AVX2_KERNEL
    if (cpu_has_avx2()) {
        gemm_tiles(kernel_4x16_avx2, 16, A, M, K, B, ldb, N, bias, C, ldc);
        return;
    }
#endif
    gemm_tiles(kernel_4x8, 8, A, M, K, B, ldb, N, bias, C, ldc);
}

void conv_valid(const float* in, int h, int w, const Layer& L, float* out, std::vector<float>& col) {
    const int oh = h - L.kh + 1, ow = w - L.kw + 1;
    const int K = L.n_in * L.kh * L.kw;
    const std::size_t out_plane = static_cast<std::size_t>(oh) * ow;
    // Row tiles keep the im2col panel (K × rows·ow) around 128 KiB, i.e. in L2.
    constexpr std::size_t kPanelFloats = 32768;
    int rows = static_cast<int>(kPanelFloats / (static_cast<std::size_t>(K) * ow));
    rows = std::max(1, std::min(rows, oh));
    col.resize(static_cast<std::size_t>(K) * rows * ow);
    for (int y0 = 0; y0 < oh; y0 += rows) {
        const int r_n = std::min(rows, oh - y0);
        const int N = r_n * ow;
        // Row k = (c·kh + r)·kw + s of the panel holds in_c(y + r, x + s) for the tile's pixels.
        float* dst = col.data();
        for (int c = 0; c < L.n_in; ++c)
            for (int r = 0; r < L.kh; ++r)
                for (int s = 0; s < L.kw; ++s)
                    for (int y = y0; y < y0 + r_n; ++y, dst += ow)
                        std::memcpy(dst, in + (static_cast<std::size_t>(c) * h + y + r) * w + s,
                                    sizeof(float) * ow);
        gemm_bias(L.weights.data(), L.n_out, K, col.data(), N, N, L.bias.data(),
                  out + static_cast<std::size_t>(y0) * ow, static_cast<int>(out_plane));
    }
}

void prelu(float* x, int c, int hw, const float* slopes) {
    for (int ch = 0; ch < c; ++ch) {
        const float a = slopes[ch];
        float* p = x + static_cast<std::size_t>(ch) * hw;
        // Branch-free so it vectorises; bit-identical to (v ≥ 0 ? v : a·v) for finite v.
        for (int i = 0; i < hw; ++i) p[i] = std::max(p[i], 0.f) + a * std::min(p[i], 0.f);
    }
}

void relu(float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
}

void sigmoid(float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) x[i] = 1.f / (1.f + std::exp(-x[i]));
}

void max_pool(const float* in, int c, int h, int w, int kx, int ky, int sx, int sy, float* out,
              int oh, int ow) {
    // Vertical max over the window's rows into `colmax`, then horizontal windows; both clipped
    // to the input (windows past the edge are truncated, spec 03 §1.3).
    std::vector<float> colmax(w);
    for (int ch = 0; ch < c; ++ch) {
        const float* src = in + static_cast<std::size_t>(ch) * h * w;
        float* dst = out + static_cast<std::size_t>(ch) * oh * ow;
        for (int j = 0; j < oh; ++j) {
            const int r0 = std::min(j * sy, h - 1), r1 = std::min(h, j * sy + ky);
            std::copy(src + static_cast<std::size_t>(r0) * w, src + static_cast<std::size_t>(r0 + 1) * w,
                      colmax.begin());
            for (int r = r0 + 1; r < r1; ++r) {
                const float* row = src + static_cast<std::size_t>(r) * w;
                for (int x = 0; x < w; ++x) colmax[x] = row[x] > colmax[x] ? row[x] : colmax[x];
            }
            float* d = dst + static_cast<std::size_t>(j) * ow;
            for (int i = 0; i < ow; ++i) {
                const int c0 = std::min(i * sx, w - 1), c1 = std::min(w, i * sx + kx);
                float m = colmax[c0];
                for (int x = c0 + 1; x < c1; ++x) m = colmax[x] > m ? colmax[x] : m;
                d[i] = m;
            }
        }
    }
}

namespace {

// out[o] = bias[o] + Σ_i v[i]·W[i][o]; i outer so the inner loop is a contiguous axpy.
void fc_vector(const float* v, const Layer& L, float* out) {
    std::copy(L.bias.begin(), L.bias.end(), out);
    const float* wrow = L.weights.data();
    for (int i = 0; i < L.n_in; ++i, wrow += L.n_out) {
        const float vi = v[i];
        for (int o = 0; o < L.n_out; ++o) out[o] += vi * wrow[o];
    }
}

}  // namespace

void forward_reference(const Net& net, Tensor& x, Workspace& ws) {
    Tensor& y = ws.tmp;
    for (const Layer& L : net) {
        const std::size_t plane = static_cast<std::size_t>(x.h) * x.w;
        switch (L.kind) {
            case LayerKind::Conv: {
                y.c = L.n_out;
                y.h = x.h - L.kh + 1;
                y.w = x.w - L.kw + 1;
                y.flat = false;
                y.data.resize(static_cast<std::size_t>(y.c) * y.h * y.w);
                conv_valid(x.data.data(), x.h, x.w, L, y.data.data(), ws.col);
                std::swap(x, y);
                break;
            }
            case LayerKind::MaxPool: {
                y.c = x.c;
                y.h = pooled_size(x.h, L.ky, L.sy);
                y.w = pooled_size(x.w, L.kx, L.sx);
                y.flat = false;
                y.data.resize(static_cast<std::size_t>(y.c) * y.h * y.w);
                max_pool(x.data.data(), x.c, x.h, x.w, L.kx, L.ky, L.sx, L.sy, y.data.data(), y.h, y.w);
                std::swap(x, y);
                break;
            }
            case LayerKind::FullyConnected: {
                if (!x.flat && x.c == L.n_in) {
                    // Spec 03 §1.3 case 1: a 1×1 convolution at every pixel (PNet's last layer).
                    y.c = L.n_out;
                    y.h = x.h;
                    y.w = x.w;
                    y.flat = false;
                    y.data.resize(static_cast<std::size_t>(y.c) * plane);
                    gemm_bias(L.weights_t.data(), L.n_out, L.n_in, x.data.data(), static_cast<int>(plane),
                              static_cast<int>(plane), L.bias.data(), y.data.data(), static_cast<int>(plane));
                } else {
                    const float* v = x.data.data();
                    if (!x.flat && x.h * x.w > 1) {
                        // Case 2 quirk: channel-major, column-major inside a map (x outer, y inner).
                        ws.col.resize(x.data.size());
                        float* f = ws.col.data();
                        for (int c = 0; c < x.c; ++c) {
                            const float* m = x.data.data() + c * plane;
                            for (int xx = 0; xx < x.w; ++xx)
                                for (int yy = 0; yy < x.h; ++yy) *f++ = m[static_cast<std::size_t>(yy) * x.w + xx];
                        }
                        v = ws.col.data();
                    }
                    y.c = L.n_out;
                    y.h = y.w = 1;
                    y.flat = true;
                    y.data.resize(L.n_out);
                    fc_vector(v, L, y.data.data());
                }
                std::swap(x, y);
                break;
            }
            case LayerKind::PReLU:
                prelu(x.data.data(), x.c, static_cast<int>(plane), L.weights.data());
                break;
            case LayerKind::ReLU:
                relu(x.data.data(), x.data.size());
                break;
            case LayerKind::Sigmoid:
                sigmoid(x.data.data(), x.data.size());
                break;
        }
    }
}

void pack(Layer& L) {
    if (L.kind != LayerKind::Conv && L.kind != LayerKind::FullyConnected) return;
    const int M = L.n_out;
    const std::size_t K = L.kind == LayerKind::Conv ? static_cast<std::size_t>(L.n_in) * L.kh * L.kw
                                                    : static_cast<std::size_t>(L.n_in);
    const float* src = L.kind == LayerKind::Conv ? L.weights.data() : L.weights_t.data();  // M × K
    L.packed.resize(static_cast<std::size_t>(M) * K);
    if (L.kind == LayerKind::FullyConnected) {
        L.fc_ld = static_cast<int>(pad_tile(static_cast<std::size_t>(M)));
        L.fc_w.assign(K * L.fc_ld, 0.f);
        L.fc_b.assign(L.fc_ld, 0.f);
        for (std::size_t i = 0; i < K; ++i)
            std::copy(L.weights.begin() + i * M, L.weights.begin() + (i + 1) * M, L.fc_w.begin() + i * L.fc_ld);
        std::copy(L.bias.begin(), L.bias.end(), L.fc_b.begin());
    }
    float* d = L.packed.data();
    for (int b = 0, m0 = 0; b < row_blocks(M); ++b) {
        const int mr = block_rows(M, b);
        for (std::size_t k = 0; k < K; ++k)
            for (int i = 0; i < mr; ++i) *d++ = src[(m0 + i) * K + k];
        m0 += mr;
    }
}

namespace {

// A strided activation (cnn_kernels.hpp): c maps of h × w valid values, row stride rs, plane
// stride ps; or a vector of c values (flat).
struct Act {
    int c = 0, h = 0, w = 0, rs = 0;
    std::size_t ps = 0;
    bool flat = false;
    float* p = nullptr;
};

float* reserve(std::vector<float>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);  // grows only: buffers are reused across layers and calls
    return v.data();
}

// The activation (if any) that forward() fuses into layer i's output: layer i+1 when it is a
// ReLU, or a PReLU with one slope per output.
int fused_activation(const Net& net, std::size_t i, int n_out, const float*& slopes) {
    slopes = nullptr;
    if (i + 1 >= net.size()) return kActNone;
    const Layer& N = net[i + 1];
    if (N.kind == LayerKind::ReLU) return kActReLU;
    if (N.kind == LayerKind::PReLU && N.weights.size() == static_cast<std::size_t>(n_out)) {
        slopes = N.weights.data();
        return kActPReLU;
    }
    return kActNone;
}

}  // namespace

namespace {

// forward(); with `head` set it stops at the first fully connected layer that takes a vector,
// leaving that layer's (flattened) input in `out` and returning its index.
std::size_t run(const Net& net, const float* in, int c, int h, int w, Tensor& out, Workspace& ws, bool head) {
    std::size_t stopped = net.size();
    const CnnKernels& K = ws.kernels ? *ws.kernels : cnn_kernels();
    std::vector<float>* cur = &ws.a;
    std::vector<float>* nxt = &ws.b;
    Act x;
    x.c = c;
    x.h = h;
    x.w = x.rs = w;
    x.ps = static_cast<std::size_t>(h) * w;
    x.p = reserve(*cur, static_cast<std::size_t>(c) * x.ps + kSlack);
    std::copy(in, in + static_cast<std::size_t>(c) * x.ps, x.p);
    for (std::size_t li = 0; li < net.size(); ++li) {
        const Layer& L = net[li];
        if (L.packed.empty() && (L.kind == LayerKind::Conv || L.kind == LayerKind::FullyConnected))
            throw std::logic_error("cnn::forward needs pack()ed layers");
        const bool as_conv = L.kind == LayerKind::Conv ||
                             (L.kind == LayerKind::FullyConnected && !x.flat && x.c == L.n_in);
        if (as_conv) {
            const int kh = L.kind == LayerKind::Conv ? L.kh : 1, kw = L.kind == LayerKind::Conv ? L.kw : 1;
            const int oh = x.h - kh + 1, ow = x.w - kw + 1;
            ConvArgs a;
            a.in = x.p;
            a.ps_in = x.ps;
            a.rs = x.rs;
            a.n_in = x.c;
            a.kh = kh;
            a.kw = kw;
            a.n_out = L.n_out;
            a.packed = L.packed.data();
            a.bias = L.bias.data();
            a.act = fused_activation(net, li, L.n_out, a.slopes);
            a.n_pos = (oh - 1) * x.rs + ow;
            a.ps_out = pad_tile(static_cast<std::size_t>(a.n_pos));
            a.out = reserve(*nxt, L.n_out * a.ps_out + kSlack);
            a.K = x.c * kh * kw;
            if (ws.offsets.size() < static_cast<std::size_t>(a.K)) ws.offsets.resize(a.K);
            for (int ch = 0, k = 0; ch < x.c; ++ch)
                for (int r = 0; r < kh; ++r)
                    for (int s = 0; s < kw; ++s, ++k)
                        ws.offsets[k] = static_cast<std::ptrdiff_t>(ch) * x.ps + static_cast<std::ptrdiff_t>(r) * x.rs + s;
            a.offsets = ws.offsets.data();
            a.oh = oh;
            a.ow = ow;
            a.panel = &ws.panel;
            a.panel_offsets = &ws.panel_offsets;
            K.conv(a);
            if (a.act != kActNone) ++li;
            x.c = L.n_out;
            x.h = oh;
            x.w = ow;
            x.ps = a.ps_out;
            x.p = a.out;
            std::swap(cur, nxt);
            continue;
        }
        switch (L.kind) {
            case LayerKind::MaxPool: {
                const int oh = pooled_size(x.h, L.ky, L.sy), ow = pooled_size(x.w, L.kx, L.sx);
                const std::size_t ps = pad_tile(static_cast<std::size_t>(oh) * ow);
                float* o = reserve(*nxt, x.c * ps + kSlack);
                K.pool(x.p, x.c, x.h, x.w, x.rs, x.ps, L.kx, L.ky, L.sx, L.sy, o, oh, ow, ps,
                       reserve(ws.col, static_cast<std::size_t>(x.w)));
                x.h = oh;
                x.w = x.rs = ow;
                x.ps = ps;
                x.p = o;
                std::swap(cur, nxt);
                break;
            }
            case LayerKind::FullyConnected: {
                const float* v = x.p;
                if (!x.flat && (x.h * x.w > 1 || x.c > 1)) {
                    // Case 2 quirk: channel-major, column-major inside a map (x outer, y inner).
                    float* f = reserve(ws.col, static_cast<std::size_t>(x.c) * x.h * x.w);
                    v = f;
                    for (int ch = 0; ch < x.c; ++ch) {
                        const float* m = x.p + ch * x.ps;
                        for (int xx = 0; xx < x.w; ++xx)
                            for (int yy = 0; yy < x.h; ++yy) *f++ = m[static_cast<std::size_t>(yy) * x.rs + xx];
                    }
                }
                if (head) {
                    out.c = L.n_in;
                    out.h = out.w = 1;
                    out.flat = true;
                    out.data.assign(v, v + L.n_in);
                    return li;
                }
                float* o = reserve(*nxt, static_cast<std::size_t>(L.fc_ld) + kSlack);
                K.fc(v, 1, 0, L.fc_w.data(), L.fc_ld, L.fc_b.data(), L.n_in, o, 0);
                x.c = L.n_out;
                x.h = x.w = x.rs = 1;
                x.ps = 1;
                x.flat = true;
                x.p = o;
                std::swap(cur, nxt);
                break;
            }
            case LayerKind::PReLU:
            case LayerKind::ReLU:
            case LayerKind::Sigmoid:
                if (x.flat) {
                    if (L.kind == LayerKind::PReLU)
                        prelu(x.p, x.c, 1, L.weights.data());
                    else if (L.kind == LayerKind::ReLU)
                        relu(x.p, static_cast<std::size_t>(x.c));
                    else
                        sigmoid(x.p, static_cast<std::size_t>(x.c));
                    break;
                }
                // Whole padded planes: the values outside the valid maps are never read.
                for (int ch = 0; ch < x.c; ++ch) {
                    float* m = x.p + ch * x.ps;
                    if (L.kind == LayerKind::PReLU)
                        prelu(m, 1, static_cast<int>(x.ps), L.weights.data() + ch);
                    else if (L.kind == LayerKind::ReLU)
                        relu(m, x.ps);
                    else
                        sigmoid(m, x.ps);
                }
                break;
            case LayerKind::Conv:
                break;  // handled above
        }
    }
    out.c = x.c;
    out.h = x.flat ? 1 : x.h;
    out.w = x.flat ? 1 : x.w;
    out.flat = x.flat;
    out.data.resize(static_cast<std::size_t>(x.c) * out.h * out.w);
    float* d = out.data.data();
    if (x.flat) {
        std::copy(x.p, x.p + x.c, d);
        return stopped;
    }
    for (int ch = 0; ch < x.c; ++ch)
        for (int y = 0; y < x.h; ++y, d += x.w) {
            const float* r = x.p + ch * x.ps + static_cast<std::size_t>(y) * x.rs;
            std::copy(r, r + x.w, d);
        }
    return stopped;
}

}  // namespace

void forward(const Net& net, const float* in, int c, int h, int w, Tensor& out, Workspace& ws) {
    run(net, in, c, h, w, out, ws, false);
}

std::size_t forward_trunk(const Net& net, const float* in, int c, int h, int w, Tensor& out, Workspace& ws) {
    return run(net, in, c, h, w, out, ws, true);
}

int forward_head(const Net& net, std::size_t from, const float* v, int n, int n_in, std::vector<float>& out,
                 Workspace& ws) {
    const CnnKernels& K = ws.kernels ? *ws.kernels : cnn_kernels();
    if (from >= net.size() || net[from].kind != LayerKind::FullyConnected)
        throw std::invalid_argument("forward_head must start at a fully connected layer");
    int dim = n_in, ld = n_in;
    const float* x = v;
    std::vector<float>* nxt = &ws.a;
    for (std::size_t li = from; li < net.size(); ++li) {
        const Layer& L = net[li];
        switch (L.kind) {
            case LayerKind::FullyConnected: {
                if (L.n_in != dim) throw std::invalid_argument("forward_head: fully connected input size != n_in");
                float* o = reserve(*nxt, static_cast<std::size_t>(n) * L.fc_ld + kSlack);
                K.fc(x, n, ld, L.fc_w.data(), L.fc_ld, L.fc_b.data(), L.n_in, o, L.fc_ld);
                x = o;
                dim = L.n_out;
                ld = L.fc_ld;
                nxt = nxt == &ws.a ? &ws.b : &ws.a;
                break;
            }
            case LayerKind::PReLU:
            case LayerKind::ReLU:
            case LayerKind::Sigmoid:
                for (int j = 0; j < n; ++j) {
                    float* r = const_cast<float*>(x) + static_cast<std::size_t>(j) * ld;  // x is ws-owned here
                    if (L.kind == LayerKind::PReLU)
                        prelu(r, dim, 1, L.weights.data());
                    else if (L.kind == LayerKind::ReLU)
                        relu(r, static_cast<std::size_t>(dim));
                    else
                        sigmoid(r, static_cast<std::size_t>(dim));
                }
                break;
            default:
                throw std::invalid_argument("forward_head: only vector layers may follow the first vector layer");
        }
    }
    out.resize(static_cast<std::size_t>(n) * dim);
    for (int j = 0; j < n; ++j)
        std::copy(x + static_cast<std::size_t>(j) * ld, x + static_cast<std::size_t>(j) * ld + dim,
                  out.begin() + static_cast<std::size_t>(j) * dim);
    return dim;
}

void forward(const Net& net, Tensor& x, Workspace& ws) {
    if (x.flat) {
        forward_reference(net, x, ws);  // vectors in: no maps to run the direct kernels on
        return;
    }
    forward(net, x.data.data(), x.c, x.h, x.w, x, ws);
}

}  // namespace fastclnf::cnn
