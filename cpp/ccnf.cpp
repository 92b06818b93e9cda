// CCNF patch experts: derived data, Sigma, AOI warp, response maps (spec 01 §4.4, §5, §6).
#include "ccnf.hpp"
#include "color.hpp"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "fastexp.hpp"
#include "kernels.hpp"
#include "parallel.hpp"
#include "warp.hpp"

namespace fastclnf {

namespace {

// Neurons whose alpha does not exceed this never reach the response (spec 01 §5.4) — but they
// still count in the alpha sum of Q (§5.5).
constexpr double kAlphaMin = 1e-4;

void require(bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
}

// The 2x3 inverse-map matrix of the AOI (spec 01 §5.2): entries computed in float, c = (W-1)/2.
std::array<float, 6> aoi_matrix(float x, float y, float a, float b, int W) {
    const float c = (static_cast<float>(W) - 1.0f) / 2.0f;
    return {a, -b, x - a * c + b * c, b, a, y - a * c - b * c};
}

// The window-size block whose matrices have ws^2 rows (§5.5 step 1); null if there is none.
const std::vector<std::vector<float>>* components_for(const CcnfScale& scale, int ws) {
    auto it = scale.sigma_components.find(ws);
    return it == scale.sigma_components.end() ? nullptr : &it->second;
}

// Diagonal value of Sigma = (2 alpha_sum I)^-1 exactly as the Cholesky route computes it:
// L = 1/sqrt(2 alpha_sum) stored as float, forward then backward substitution each multiply by it.
// Sigma of one expert in both layouts (row-major and transposed/padded).
void build_one(const CcnfExpert& e, const std::vector<std::vector<float>>* comps, int ws,
               std::vector<float>& sig, SigmaT& sig_t) {
    const int N = ws * ws;
    const int np = sigma_stride(N);
    sig.resize(static_cast<size_t>(N) * N);
    expert_sigma(e, comps, ws, sig.data());
    sig_t.assign(static_cast<size_t>(N) * np + kPad, 0.f);
    for (int r = 0; r < N; ++r)
        for (int c = 0; c < N; ++c)
            sig_t[static_cast<size_t>(c) * np + r] = sig[static_cast<size_t>(r) * N + c];
}

}  // namespace

// What a set needs to build a view later: its own copy of the experts' alpha sums and betas,
// the visibility and the window's sigma components; one built flag per view; the lock.
struct SigmaSet::State {
    bool lazy = false;
    std::vector<CcnfExpert> experts;  // alpha_sum and betas only (M, alpha left empty)
    std::vector<int> visibility;
    bool has_components = false;
    std::vector<std::vector<float>> components;
    std::unique_ptr<std::atomic<bool>[]> built;
    std::mutex mu;
};

SigmaSet::SigmaSet() = default;
SigmaSet::~SigmaSet() = default;
SigmaSet::SigmaSet(SigmaSet&&) noexcept = default;
SigmaSet& SigmaSet::operator=(SigmaSet&&) noexcept = default;

bool SigmaSet::view_built(int view) const {
    return state && view >= 0 && view < n_views && state->built[view].load(std::memory_order_acquire);
}

bool SigmaSet::lazy() const { return state && state->lazy; }

void SigmaSet::ensure_view(int view, int threads) const {
    require(view >= 0 && view < n_views, "SigmaSet: view " + std::to_string(view) +
                                             " out of range [0, " + std::to_string(n_views) + ")");
    if (view_built(view)) return;
    require(lazy(), "SigmaSet: view " + std::to_string(view) +
                        " was not built (build_sigmas(..., view=) built another one)");
    std::lock_guard<std::mutex> guard(state->mu);
    if (state->built[view].load(std::memory_order_relaxed)) return;
    const auto* comps = state->has_components ? &state->components : nullptr;
    // Sigma is a function of the alpha sum and the betas alone, and mirrored landmarks share
    // them (main model: 39 distinct Sigmas for 68 experts per window): build each distinct one
    // once, keep one transposed copy (the fast path's memory traffic, ~40 % less), and visit the
    // experts sharing it one after the other so that the second product reads it from cache.
    const size_t base = static_cast<size_t>(view) * n;
    auto same = [&](size_t a, size_t b) {
        const auto& x = state->experts[a];
        const auto& y = state->experts[b];
        return std::memcmp(&x.alpha_sum, &y.alpha_sum, sizeof(float)) == 0 &&
               x.betas.size() == y.betas.size() &&
               (x.betas.empty() ||
                std::memcmp(x.betas.data(), y.betas.data(), x.betas.size() * sizeof(float)) == 0);
    };
    std::vector<int> root(n, -1), roots;
    for (int i = 0; i < n; ++i) {
        if (!state->visibility[base + i]) continue;
        for (int j : roots)
            if (same(base + i, base + j)) {
                root[i] = j;
                break;
            }
        if (root[i] < 0) {
            root[i] = i;
            roots.push_back(i);
        }
    }
    parallel_for(static_cast<int>(roots.size()), threads, [&](int t) {
        const size_t idx = base + roots[t];
        build_one(state->experts[idx], comps, ws, sigma[idx], sigma_t[idx]);
    });
    int* ord = order.data() + base;
    int k = 0;
    for (int r : roots)
        for (int i = 0; i < n; ++i)
            if (root[i] == r) {
                ord[k++] = i;
                alias[base + i] = static_cast<int>(base) + r;
                if (i != r) sigma[base + i] = sigma[base + r];  // bindings, reference path
            }
    for (int i = 0; i < n; ++i)
        if (root[i] < 0) ord[k++] = i;  // invisible: skipped by the responses
    state->built[view].store(true, std::memory_order_release);
}

namespace {

SigmaSet build(const CcnfScale& scale, int ws, int only_view, bool lazy) {
    require(ws > 0, "build_sigmas: window size must be positive, got " + std::to_string(ws));
    const auto* comps = components_for(scale, ws);
    SigmaSet s;
    s.ws = ws;
    s.n_views = scale.n_views;
    s.n = scale.n;
    s.sigma.resize(static_cast<size_t>(scale.n_views) * scale.n);
    s.sigma_t.resize(s.sigma.size());
    s.alias.resize(s.sigma.size());
    s.order.resize(s.sigma.size());
    for (size_t t = 0; t < s.sigma.size(); ++t) {
        s.alias[t] = static_cast<int>(t);
        s.order[t] = static_cast<int>(t % static_cast<size_t>(scale.n));
    }
    s.state = std::make_unique<SigmaSet::State>();
    auto& st = *s.state;
    st.lazy = lazy;
    st.built = std::make_unique<std::atomic<bool>[]>(scale.n_views);
    for (int v = 0; v < scale.n_views; ++v) st.built[v].store(false);
    st.visibility = scale.visibility;
    st.experts.resize(scale.experts.size());
    for (size_t t = 0; t < scale.experts.size(); ++t) {
        st.experts[t].alpha_sum = scale.experts[t].alpha_sum;
        st.experts[t].betas = scale.experts[t].betas;
    }
    if (comps) {
        st.has_components = true;
        st.components = *comps;
    }
    // Validate the components once up front, whatever is built now.
    if (comps && !comps->empty()) {
        const size_t NN = static_cast<size_t>(ws) * ws * ws * ws;
        for (const auto& S : *comps)
            require(S.size() == NN, "sigma component of window " + std::to_string(ws) +
                                        " is not ws^2 x ws^2");
    }
    if (lazy) return s;
    st.lazy = true;  // build through the same path, then freeze
    for (int v = 0; v < scale.n_views; ++v)
        if (only_view < 0 || v == only_view) s.ensure_view(v);
    st.lazy = false;
    return s;
}

}  // namespace

float sigma_diagonal(float alpha_sum) {
    std::vector<float> a{2.f * alpha_sum};
    float inv = 0.f;
    if (!cholesky_inverse(a, 1, &inv))
        throw std::invalid_argument("CCNF expert with alpha sum <= 0: Sigma undefined");
    return inv;
}

CcnfExpert make_expert(int K, const double* norm_weights, const double* bias, const double* alpha,
                       const float* weights, int h, int w, const double* betas, int B,
                       double confidence) {
    CcnfExpert e;
    const int np = w * h;
    for (int k = 0; k < K; ++k) {
        // "Summed into a float": float accumulator, double addend (spec 01 §5.8).
        e.alpha_sum = static_cast<float>(static_cast<double>(e.alpha_sum) + alpha[k]);
        if (!(alpha[k] > kAlphaMin)) continue;
        const float nw = static_cast<float>(norm_weights[k]);
        const float* Wk = weights + static_cast<size_t>(k) * np;
        const size_t row = e.M.size();
        e.M.resize(row + 1 + np);
        e.M[row] = static_cast<float>(bias[k]);
        // Column-major (x-major) flattening, scaled in float (spec 01 §4.4).
        for (int xx = 0; xx < w; ++xx)
            for (int yy = 0; yy < h; ++yy) e.M[row + 1 + xx * h + yy] = nw * Wk[yy * w + xx];
        double ws = 0.0;
        for (int p = 0; p < np; ++p) ws += e.M[row + 1 + p];
        e.wsum.push_back(static_cast<float>(ws));
        e.alpha.push_back(alpha[k]);
        e.two_alpha.push_back(static_cast<float>(2.0 * alpha[k]));
        ++e.K;
    }
    e.betas.resize(B);
    for (int b = 0; b < B; ++b) e.betas[b] = static_cast<float>(betas[b]);
    e.confidence = static_cast<float>(confidence);
    return e;
}

bool cholesky_inverse(std::vector<float>& a, int N, float* inv) {
    // The loops live in kernels.inc (compiled per SIMD level: the right-hand-side loops vectorise
    // there without any reordering); see the comments there.
    std::vector<double> acc(static_cast<size_t>(N) + kPad);
    return kernels().cholesky_inverse(a.data(), N, inv, acc.data());
}

void expert_sigma(const CcnfExpert& e, const std::vector<std::vector<float>>* components, int ws,
                  float* out) {
    const int N = ws * ws;
    const size_t NN = static_cast<size_t>(N) * N;
    std::vector<float> Q(NN, 0.f);
    // Q = alpha_sum I + sum_b beta_b S_b in float (§5.5); the alpha sum includes the neurons the
    // response skips. Missing component set (or N_s = 0): Q = alpha_sum I, betas ignored.
    for (int d = 0; d < N; ++d) Q[static_cast<size_t>(d) * N + d] = e.alpha_sum;
    if (components && !components->empty()) {
        require(components->size() == e.betas.size(),
                "CCNF expert has " + std::to_string(e.betas.size()) + " betas but window " +
                    std::to_string(ws) + " has " + std::to_string(components->size()) +
                    " sigma components");
        for (size_t b = 0; b < components->size(); ++b) {
            const auto& S = (*components)[b];
            require(S.size() == NN, "sigma component of window " + std::to_string(ws) +
                                        " is not ws^2 x ws^2");
            const float beta = e.betas[b];
            for (size_t t = 0; t < NN; ++t) Q[t] += beta * S[t];
        }
    }
    for (auto& q : Q) q *= 2.f;  // exact
    if (!cholesky_inverse(Q, N, out))
        throw std::invalid_argument("CCNF Sigma: 2Q is not positive definite (window " +
                                    std::to_string(ws) + ")");
}

SigmaSet build_sigmas(const CcnfScale& scale, int ws) { return build(scale, ws, -1, false); }

SigmaSet build_sigmas_view(const CcnfScale& scale, int ws, int view) {
    require(view >= 0 && view < scale.n_views, "build_sigmas: view " + std::to_string(view) +
                                                   " out of range [0, " +
                                                   std::to_string(scale.n_views) + ")");
    return build(scale, ws, view, false);
}

SigmaSet build_sigmas_lazy(const CcnfScale& scale, int ws) { return build(scale, ws, -1, true); }

int view_index(const CcnfScale& scale, float rx, float ry, float rz) {
    // Nearest centre in float, strict comparison so ties keep the lowest index (§6).
    int best = 0;
    float best_d = 0.f;
    for (int v = 0; v < scale.n_views; ++v) {
        const float* c = scale.view_centres.data() + 3 * v;
        const float d0 = rx - c[0], d1 = ry - c[1], d2 = rz - c[2];
        const float d = d0 * d0 + d1 * d1 + d2 * d2;
        if (v == 0 || d < best_d) {
            best = v;
            best_d = d;
        }
    }
    return best;
}

std::array<float, 4> align_with_scale(const float* src2n, const float* dst2n, int n) {
    require(n > 0, "align_with_scale: no points");
    // Centroids: double sums, stored float (spec 01 §5.1).
    auto centroid = [n](const float* p, float& mx, float& my) {
        double sx = 0, sy = 0;
        for (int i = 0; i < n; ++i) {
            sx += p[i];
            sy += p[i + n];
        }
        mx = static_cast<float>(sx / n);
        my = static_cast<float>(sy / n);
    };
    float msx, msy, mdx, mdy;
    centroid(src2n, msx, msy);
    centroid(dst2n, mdx, mdy);
    std::vector<float> s(2 * static_cast<size_t>(n)), d(2 * static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        s[i] = src2n[i] - msx;
        s[i + n] = src2n[i + n] - msy;
        d[i] = dst2n[i] - mdx;
        d[i + n] = dst2n[i + n] - mdy;
    }
    // RMS radii (double sums, float results). Quirk: the scale is their ratio, not the
    // least-squares similarity scale.
    auto rms = [n](const std::vector<float>& p) {
        double acc = 0;
        for (int i = 0; i < n; ++i)
            acc += static_cast<double>(p[i]) * p[i] + static_cast<double>(p[i + n]) * p[i + n];
        return static_cast<float>(std::sqrt(acc / n));
    };
    const float s_src = rms(s), s_dst = rms(d);
    for (auto& v : s) v /= s_src;
    for (auto& v : d) v /= s_dst;
    // H = src^T dst (2x2).
    double h00 = 0, h01 = 0, h10 = 0, h11 = 0;
    for (int i = 0; i < n; ++i) {
        h00 += static_cast<double>(s[i]) * d[i];
        h01 += static_cast<double>(s[i]) * d[i + n];
        h10 += static_cast<double>(s[i + n]) * d[i];
        h11 += static_cast<double>(s[i + n]) * d[i + n];
    }
    const float H00 = static_cast<float>(h00), H01 = static_cast<float>(h01);
    const float H10 = static_cast<float>(h10), H11 = static_cast<float>(h11);
    // 2-D Kabsch: R = V diag(1, sign det(V U^T)) U^T with H = U S V^T. In 2-D this is the proper
    // rotation maximising tr(R H), i.e. the angle atan2(H01 - H10, H00 + H11); the closed form
    // equals the SVD route (for det H < 0 the sign flip gives the same rotation) and avoids an
    // iterative SVD.
    const double cs = static_cast<double>(H00) + H11, sn = static_cast<double>(H01) - H10;
    const double r = std::hypot(cs, sn);
    const float c = r > 0 ? static_cast<float>(cs / r) : 1.f;
    const float si = r > 0 ? static_cast<float>(sn / r) : 0.f;
    const float k = s_dst / s_src;
    return {k * c, k * -si, k * si, k * c};
}

std::array<float, 4> invert2x2(const std::array<float, 4>& A) {
    // Direct formula with a double determinant, as OpenCV's invert does for 2x2; singular -> 0.
    const double det = static_cast<double>(A[0]) * A[3] - static_cast<double>(A[1]) * A[2];
    if (det == 0.0) return {0.f, 0.f, 0.f, 0.f};
    const double r = 1.0 / det;
    return {static_cast<float>(A[3] * r), static_cast<float>(-A[1] * r),
            static_cast<float>(-A[2] * r), static_cast<float>(A[0] * r)};
}

void warp_aoi(const ImageF& img, float x, float y, float a, float b, int W, float* out) {
    const auto m = aoi_matrix(x, y, a, b, W);
    warp::warp_affine_q32(img, m.data(), W, W, out);
}

void warp_aoi_exact(const ImageF& img, float x, float y, float a, float b, int W, float* out) {
    const auto m = aoi_matrix(x, y, a, b, W);
    warp::warp_affine_exact(img, m.data(), W, W, out);
}

void expert_raw_response(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                         float* out) {
    const int aw = ws + pw - 1;   // AOI columns
    const int np = pw * ph;       // pixels per patch
    const int npos = ws * ws;     // response positions, row-major (i = y offset, j = x offset)
    // Positions are processed in blocks of kBlock held in registers by the neuron loop; the
    // position axis is zero-padded to a whole number of blocks.
    constexpr int kBlock = 16;
    const int npad = (npos + kBlock - 1) / kBlock * kBlock;

    // §5.3 normalisation. Normalised patches are stored pixel-major (P[p][pos], p = xx*ph + yy,
    // the x-major order of M) so that every loop below runs over positions innermost and
    // vectorises, while each position's sums still run over p in x-major order.
    std::vector<float> P(static_cast<size_t>(np) * npad, 0.f);
    std::vector<float> sum(npos, 0.f), ss(npos, 0.f), inv(npos);
    for (int xx = 0; xx < pw; ++xx)
        for (int yy = 0; yy < ph; ++yy)
            for (int i = 0; i < ws; ++i) {
                const float* src = aoi + (i + yy) * aw + xx;
                float* acc = sum.data() + i * ws;
                for (int j = 0; j < ws; ++j) acc[j] += src[j];
            }
    const float count = static_cast<float>(np);
    for (int t = 0; t < npos; ++t) sum[t] /= count;  // now the mean
    for (int xx = 0; xx < pw; ++xx)
        for (int yy = 0; yy < ph; ++yy) {
            float* dst = P.data() + static_cast<size_t>(xx * ph + yy) * npad;
            for (int i = 0; i < ws; ++i) {
                const float* src = aoi + (i + yy) * aw + xx;
                const float* mean = sum.data() + i * ws;
                float* acc = ss.data() + i * ws;
                float* d = dst + i * ws;
                for (int j = 0; j < ws; ++j) {
                    const float c = src[j] - mean[j];
                    d[j] = c;
                    acc[j] += c * c;
                }
            }
        }
    for (int t = 0; t < npos; ++t) {
        float norm = std::sqrt(ss[t]);
        if (norm == 0.f) norm = 1.f;  // constant patch: stays all zero
        inv[t] = 1.f / norm;           // reciprocal, then multiply (§5.3)
    }
    for (int p = 0; p < np; ++p) {
        float* d = P.data() + static_cast<size_t>(p) * npad;
        for (int t = 0; t < npos; ++t) d[t] *= inv[t];
    }

    // §5.4: z_k = bias_k + sum_p M[k][1+p] P[p] (float, p ascending), then
    // r = sum_k 2 alpha_k / (1 + exp(-z_k)), all in float, accumulated in neuron order, with
    // the fixed float exp of fastexp.hpp. (Float like the rest of the response; a double
    // sigmoid with libm's exp fits OpenFace's maps no better: 0.0037 vs 0.0036 px median
    // landmark distance over the 343 reference faces, p95 0.036 vs 0.034.)
    std::fill(out, out + npos, 0.f);
    std::vector<float> z(npad);
    for (int k = 0; k < e.K; ++k) {
        const float* Mk = e.M.data() + static_cast<size_t>(k) * (1 + np);
        for (int blk = 0; blk < npad; blk += kBlock) {
            float acc[kBlock];
            for (int t = 0; t < kBlock; ++t) acc[t] = Mk[0];
            const float* Pb = P.data() + blk;
            for (int p = 0; p < np; ++p) {
                const float m = Mk[1 + p];
                const float* Pp = Pb + static_cast<size_t>(p) * npad;
                for (int t = 0; t < kBlock; ++t) acc[t] += m * Pp[t];
            }
            for (int t = 0; t < kBlock; ++t) z[blk + t] = acc[t];
        }
        const float two_alpha = e.two_alpha[k];
        for (int pos = 0; pos < npos; ++pos) out[pos] += two_alpha / (1.f + fastexp::expf(-z[pos]));
    }
}

void apply_sigma(const CcnfExpert& e, const float* sigma, int ws, const float* r, float* out) {
    const int N = ws * ws;
    if (!sigma) {
        // No Sigma given: I / (2 alpha_sum) (§5.5, missing window size). A diagonal matrix times
        // r adds exact zeros, so this equals the full product.
        const float d = sigma_diagonal(e.alpha_sum);
        for (int t = 0; t < N; ++t) out[t] = d * r[t];
        return;
    }
    // r' = Sigma r on the row-major flattened map, float sums in column order. Four rows at a
    // time give the CPU independent dependency chains without reordering any sum.
    int row = 0;
    for (; row + 4 <= N; row += 4) {
        const float* s0 = sigma + static_cast<size_t>(row) * N;
        const float* s1 = s0 + N;
        const float* s2 = s1 + N;
        const float* s3 = s2 + N;
        float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
        for (int c = 0; c < N; ++c) {
            const float rc = r[c];
            a0 += s0[c] * rc;
            a1 += s1[c] * rc;
            a2 += s2[c] * rc;
            a3 += s3[c] * rc;
        }
        out[row] = a0;
        out[row + 1] = a1;
        out[row + 2] = a2;
        out[row + 3] = a3;
    }
    for (; row < N; ++row) {
        const float* s0 = sigma + static_cast<size_t>(row) * N;
        float a0 = 0.f;
        for (int c = 0; c < N; ++c) a0 += s0[c] * r[c];
        out[row] = a0;
    }
}

void expert_response_reference(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                               const float* sigma, float* out) {
    const int N = ws * ws;
    std::vector<float> r(N);
    expert_raw_response(e, pw, ph, aoi, ws, r.data());
    apply_sigma(e, sigma, ws, r.data(), out);
    // §5.6: shift so that the minimum is 0 when it is negative; no other normalisation.
    const float mn = *std::min_element(out, out + N);
    if (mn < 0.f)
        for (int t = 0; t < N; ++t) out[t] -= mn;
}

namespace {
// The AOI copied into a buffer with the kernels' read slack.
std::vector<float> padded_aoi(const float* aoi, int pw, int ws) {
    const size_t W = static_cast<size_t>(ws + pw - 1);
    std::vector<float> a(W * W + kAoiSlack, 0.f);
    std::copy(aoi, aoi + W * W, a.begin());
    return a;
}
}  // namespace

void expert_response(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                     const float* sigma_t, float* out, Isa isa) {
    require(pw == ph, "expert_response: only square patches are supported");
    const auto& k = kernels(isa);
    const auto a = padded_aoi(aoi, pw, ws);
    std::vector<float> scratch(response_scratch_floats(pw, ph, ws));
    const float diag = sigma_t ? 0.f : sigma_diagonal(e.alpha_sum);
    k.expert_response(e, pw, ph, a.data(), ws, sigma_t, diag, scratch.data(), out, nullptr, 0);
}

void expert_raw_response_fast(const CcnfExpert& e, int pw, int ph, const float* aoi, int ws,
                              float* out, Isa isa) {
    require(pw == ph, "expert_response: only square patches are supported");
    const auto& k = kernels(isa);
    const auto a = padded_aoi(aoi, pw, ws);
    std::vector<float> scratch(response_scratch_floats(pw, ph, ws));
    std::vector<float> r(static_cast<size_t>(pad16(ws * ws)));
    k.raw_response(e, pw, ph, a.data(), ws, scratch.data(), r.data());
    std::copy(r.begin(), r.begin() + ws * ws, out);
}

namespace {

void check_responses_args(const CcnfScale& scale, const SigmaSet& sigmas, int view, int ws) {
    require(view >= 0 && view < scale.n_views,
            "responses: view " + std::to_string(view) + " out of range");
    require(sigmas.ws == ws, "responses: Sigma set built for window " + std::to_string(sigmas.ws) +
                                 ", asked for " + std::to_string(ws));
    require(sigmas.n_views == scale.n_views && sigmas.n == scale.n &&
                sigmas.sigma.size() == static_cast<size_t>(scale.n_views) * scale.n,
            "responses: Sigma set does not belong to this scale");
    require(scale.pw == scale.ph, "responses: only square patches are supported");
}

void warp_kernel(const Kernels& k, const ImageF& img, const float* m, int W, float* out) {
    k.warp_f32(img, m, W, out);
}
void warp_kernel(const Kernels& k, const ImageU8& img, const float* m, int W, float* out) {
    k.warp_u8(img, m, W, out);
}

// A lazily converted frame (color.hpp): convert the pixels under every visible landmark's AOI
// before any warp reads them. The warp is affine, so each AOI's extent is that of its corners.
void ensure_aoi_pixels(const ImageF&, const CcnfScale&, int, const float*, float, float, int) {}
void ensure_aoi_pixels(const ImageU8& img, const CcnfScale& scale, int view,
                       const float* landmarks2n, float a, float b, int W) {
    if (!img.lazy) return;
    const int n = scale.n;
    float x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    const float e = static_cast<float>(W - 1);
    for (int i = 0; i < n; ++i) {
        if (!scale.visibility[static_cast<size_t>(view) * n + i]) continue;
        const auto m = aoi_matrix(landmarks2n[i], landmarks2n[i + n], a, b, W);
        for (const float u : {0.f, e})
            for (const float v : {0.f, e}) {
                const float x = m[0] * u + m[1] * v + m[2];
                const float y = m[3] * u + m[4] * v + m[5];
                if (!std::isfinite(x) || !std::isfinite(y)) {  // the warp's NaN rule reads (0, 0)
                    img.lazy->ensure_all();
                    return;
                }
                x0 = std::fmin(x0, x);
                x1 = std::fmax(x1, x);
                y0 = std::fmin(y0, y);
                y1 = std::fmax(y1, y);
            }
    }
    if (x0 > x1) return;  // no visible landmark
    ensure_region(img, x0, y0, x1, y1);
}

template <typename Image>
void responses_impl(const Image& img, const CcnfScale& scale, const SigmaSet& sigmas, int view,
                    int ws, const float* landmarks2n, float a, float b, float* maps, Isa isa,
                    bool reference) {
    check_responses_args(scale, sigmas, view, ws);
    const int W = ws + scale.pw - 1;  // the C++ uses the width for both centring terms (§5.2)
    const int n = scale.n;
    const size_t map_size = static_cast<size_t>(ws) * ws;
    const auto& k = kernels(isa);
    // One buffer for the whole scale: two AOIs (+ slack), response scratch.
    const size_t aoi_floats = static_cast<size_t>(W) * W + kAoiSlack;
    std::vector<float> buf(2 * aoi_floats + response_scratch_floats(scale.pw, scale.ph, ws));
    float* aoi = buf.data();
    float* aoi1 = aoi + aoi_floats;
    float* scratch = aoi1 + aoi_floats;
    const int* order = sigmas.order.data() + static_cast<size_t>(view) * n;
    ensure_aoi_pixels(img, scale, view, landmarks2n, a, b, W);
    for (int k2 = 0; k2 < n; ++k2) {
        const int i = order[k2];
        const size_t idx = static_cast<size_t>(view) * n + i;
        if (!scale.visibility[idx]) continue;  // map left untouched (§5.2)
        const auto& sig = sigmas.sigma[idx];
        require(sig.size() == map_size * map_size,
                "responses: no Sigma for view " + std::to_string(view) + ", landmark " +
                    std::to_string(i) + " (Sigma set built for another view?)");
        const auto m = aoi_matrix(landmarks2n[i], landmarks2n[i + n], a, b, W);
        float* out = maps + i * map_size;
        if (reference) {
            warp::warp_affine_q32(img, m.data(), W, W, aoi);
            expert_response_reference(scale.experts[idx], scale.pw, scale.ph, aoi, ws, sig.data(), out);
            continue;
        }
        warp_kernel(k, img, m.data(), W, aoi);
        // The next expert in `order` shares this one's Sigma: both maps in one pass over it.
        const int i1 = k2 + 1 < n ? order[k2 + 1] : -1;
        const size_t idx1 = static_cast<size_t>(view) * n + i1;
        const bool pair = i1 >= 0 && scale.visibility[idx1] &&
                          sigmas.alias[idx1] == sigmas.alias[idx] &&
                          sigmas.sigma[idx1].size() == map_size * map_size;
        // The Sigma the expert after this one (or pair) will read.
        const float* next = nullptr;
        size_t next_floats = 0;
        const int kn = k2 + (pair ? 2 : 1);
        if (kn < n) {
            const size_t idxn = static_cast<size_t>(view) * n + order[kn];
            if (scale.visibility[idxn] && sigmas.sigma[idxn].size() == map_size * map_size) {
                next = sigmas.sigma_t_of(idxn);
                next_floats = sigmas.sigma_t[sigmas.alias[idxn]].size();
            }
        }
        if (pair) {
            const auto m1 = aoi_matrix(landmarks2n[i1], landmarks2n[i1 + n], a, b, W);
            warp_kernel(k, img, m1.data(), W, aoi1);
            k.expert_response_pair(scale.experts[idx], scale.experts[idx1], scale.pw, scale.ph,
                                   aoi, aoi1, ws, sigmas.sigma_t_of(idx), scratch, out,
                                   maps + i1 * map_size, next, next_floats);
            ++k2;
            continue;
        }
        k.expert_response(scale.experts[idx], scale.pw, scale.ph, aoi, ws,
                          sigmas.sigma_t_of(idx), 0.f, scratch, out, next, next_floats);
    }
}

}  // namespace

void responses(const ImageF& img, const CcnfScale& scale, const SigmaSet& sigmas, int view,
               int ws, const float* landmarks2n, float a, float b, float* maps, Isa isa,
               bool reference) {
    responses_impl(img, scale, sigmas, view, ws, landmarks2n, a, b, maps, isa, reference);
}

void responses(const ImageU8& img, const CcnfScale& scale, const SigmaSet& sigmas, int view,
               int ws, const float* landmarks2n, float a, float b, float* maps, Isa isa,
               bool reference) {
    responses_impl(img, scale, sigmas, view, ws, landmarks2n, a, b, maps, isa, reference);
}

}  // namespace fastclnf
