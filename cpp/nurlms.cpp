#include "nurlms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "linalg.hpp"
#include "meanshift.hpp"

namespace fastclnf {

namespace {

// (ws-1)/2 is an *integer* division in OpenFace (spec 02 §2.4 step 4 quirk); for odd windows it
// is exact anyway.
inline float map_centre(int ws) { return static_cast<float>((ws - 1) / 2); }

double shape_distance(const float* a, const float* b, int len) {
    double s = 0.0;
    for (int k = 0; k < len; ++k) {
        const double d = static_cast<double>(a[k]) - static_cast<double>(b[k]);
        s += d * d;
    }
    return std::sqrt(s);
}

}  // namespace

PhaseOutput nurlms_phase(const PhaseInputs& in, const ScaleSettings& s, bool rigid, Global& g,
                         float* q) {
    const Pdm& pdm = *in.pdm;
    const int n = pdm.n, m = pdm.m;
    const int P = rigid ? 6 : 6 + m;
    const int ws = s.ws;

    // All work arrays in one zero-filled allocation. J and W J carry kPad floats of slack: the
    // normal-equations kernel reads whole vectors. Diagonal weights W: x rows then y rows.
    const int ldh = pad16(P);
    const size_t nJ = static_cast<size_t>(2 * n) * P + kPad;
    const size_t nchol = in.kernels ? cholesky_scratch_floats(P) : 0;
    const bool weighted = s.weight > 0.f;
    // The full Jacobian skips the weighting when trace(W) == 2n (spec 01 §3.4 quirk); the rigid
    // one always applies it. With W = I both are the same thing.
    bool apply_w = weighted;
    if (weighted && !rigid) {
        float tr = 0.f;  // trace(W): the x rows' weights, then the y rows' (the same values)
        for (int rows = 0; rows < 2; ++rows)
            for (int i = 0; i < n; ++i) tr += s.weight * in.confidence[i];
        apply_w = tr != static_cast<float>(2 * n);
    }
    // W J only where it is applied; the P x P matrix only for the scalar reference solve.
    const size_t nJw = apply_w ? nJ : 0;
    const size_t nH = in.kernels ? 0 : static_cast<size_t>(P) * P;
    // A per-thread buffer reused from call to call: nothing in it is read before it is written
    // except J's and W J's slack, cleared below (clearing and allocating the whole ~100 KB on
    // every phase cost as much as a Cholesky solve).
    static thread_local std::vector<float> arena;
    const size_t need = P + 2 * n + 2 * n + 2 * n + nJ + nJw + 2 * n + 2 * n + nH + P + 3 * n +
                        (in.kernels ? static_cast<size_t>(P) * ldh : 0) + nchol + 16;
    if (arena.size() < need) arena.resize(need);
    float* next = arena.data();
    auto take = [&next](size_t count) {
        float* p = next;
        next += count;
        return p;
    };
    float* lambda = take(P);
    float* w = take(2 * n);
    float* shape = take(2 * n);
    float* prev = take(2 * n);
    float* J = take(nJ);
    float* Jw = take(nJw);
    float* msx = take(n);
    float* msy = take(n);
    float* mu = take(2 * n);
    float* H = take(nH);
    float* b = take(P);
    float* S = take(3 * n);
    float* Hp = take(in.kernels ? static_cast<size_t>(P) * ldh : 0);
    next += (reinterpret_cast<uintptr_t>(next) / sizeof(float)) & 1;  // 8-byte aligned for doubles
    float* chol = take(nchol);
    std::fill_n(J + nJ - kPad, kPad, 0.f);
    if (nJw) std::fill_n(Jw + nJw - kPad, kPad, 0.f);

    // Regulariser (spec 02 §2.6): none on the pose, reg/lambda_k on shape mode k.
    if (!rigid)
        for (int k = 0; k < m; ++k) lambda[6 + k] = s.reg / pdm.eig[k];

    for (int r = 0; r < 2 * n; ++r) w[r] = 1.f;
    if (weighted)
        for (int i = 0; i < n; ++i) w[i] = w[i + n] = s.weight * in.confidence[i];

    const float centre = map_centre(ws);
    PhaseOutput out;
    out.dx.assign(n, 0.f);
    out.dy.assign(n, 0.f);

    // The rigid phase leaves q alone except where its clamp changes it (only possible after the
    // first update): S(q) is recomputed only then.
    bool q_changed = true;
    std::vector<float> q_before(rigid ? m : 0);
    for (int t = 0; t < s.iterations; ++t) {
        if (q_changed) shape3d(pdm, q, S);  // shared by the 2-D shape and the Jacobian
        shape2d_from3d(pdm, g, S, shape);
        if (t > 0 && shape_distance(shape, prev, 2 * n) < 0.01) {
            out.converged = true;
            break;
        }
        std::copy_n(shape, 2 * n, prev);

        jacobian_from3d(pdm, g, S, J, !rigid);

        // Offsets of the current shape from the base, in map coordinates.
        for (int i = 0; i < n; ++i) {
            const float ox = shape[i] - in.base[i];
            const float oy = shape[i + n] - in.base[i + n];
            out.dx[i] = in.A[0] * ox + in.A[1] * oy + centre;
            out.dy[i] = in.A[2] * ox + in.A[3] * oy + centre;
        }
        if (in.kernels)
            in.kernels->mean_shift_t(in.maps_t, in.ld, in.visible, n, ws, out.dx.data(),
                                     out.dy.data(), in.grid, msx, msy);
        else
            mean_shift(in.maps, in.visible, n, ws, out.dx.data(), out.dy.data(), in.grid, msx, msy);
        // Back to the image frame; invisible landmarks neither pull nor count (spec 02 §2.4 s7).
        for (int i = 0; i < n; ++i) {
            if (!in.visible[i]) {
                mu[i] = mu[i + n] = 0.f;
                std::fill_n(J + static_cast<size_t>(i) * P, P, 0.f);
                std::fill_n(J + static_cast<size_t>(i + n) * P, P, 0.f);
                continue;
            }
            mu[i] = in.Ainv[0] * msx[i] + in.Ainv[1] * msy[i];
            mu[i + n] = in.Ainv[2] * msx[i] + in.Ainv[3] * msy[i];
        }
        // W J (rows scaled), kept row-major 2n x P; J_w^T is its transpose.
        const float* JW = J;
        if (apply_w) {
            for (int r = 0; r < 2 * n; ++r)
                for (int c = 0; c < P; ++c)
                    Jw[static_cast<size_t>(r) * P + c] = w[r] * J[static_cast<size_t>(r) * P + c];
            JW = Jw;
        }
        // b = J_w^T mu - Lambda q ; H = J_w^T J + Lambda (only H's lower triangle is read)
        if (in.kernels) {
            in.kernels->normal_equations(JW, J, mu, 2 * n, P, Hp, ldh, b);
            if (!rigid)
                for (int k = 0; k < m; ++k) {
                    b[6 + k] -= lambda[6 + k] * q[k];
                    Hp[static_cast<size_t>(6 + k) * ldh + 6 + k] += lambda[6 + k];
                }
            // b becomes the update (zero if singular)
            in.kernels->cholesky_solve(Hp, ldh, b, P, chol);
        } else {
            std::fill_n(b, P, 0.f);
            std::fill_n(H, static_cast<size_t>(P) * P, 0.f);
            for (int r = 0; r < 2 * n; ++r) {
                const float* jw = JW + static_cast<size_t>(r) * P;
                const float* j = J + static_cast<size_t>(r) * P;
                const float mr = mu[r];
                for (int a = 0; a < P; ++a) {
                    const float v = jw[a];
                    if (v == 0.f) continue;
                    b[a] += v * mr;
                    float* h = H + static_cast<size_t>(a) * P;
                    for (int c = 0; c < P; ++c) h[c] += v * j[c];
                }
            }
            if (!rigid)
                for (int k = 0; k < m; ++k) {
                    b[6 + k] -= lambda[6 + k] * q[k];
                    H[static_cast<size_t>(6 + k) * P + 6 + k] += lambda[6 + k];
                }
            linalg::cholesky_solve(H, b, P);  // b becomes the update (0 if singular)
        }
        apply_update(g, q, m, b, P);
        if (rigid) std::copy_n(q, m, q_before.data());
        clamp_local(pdm, q);  // also in the rigid phase (spec 02 §2.4 step 12)
        if (rigid) q_changed = !std::equal(q, q + m, q_before.data());
        out.updates++;
    }
    return out;
}

float likelihoods(const float* maps, const int* visible, int n, int ws, const float* dx,
                  const float* dy, float sigma, float* out_landmark) {
    float sum = 0.f;
    int count = 0;
    const double inv = 1.0 / (static_cast<double>(sigma) * sigma);
    for (int i = 0; i < n; ++i) {
        if (!visible[i]) {
            out_landmark[i] = -1e8f;
            continue;
        }
        const float* R = maps + static_cast<size_t>(i) * ws * ws;
        float l = 0.f;
        for (int r = 0; r < ws; ++r) {
            const float vy = dy[i] - static_cast<float>(r);
            for (int c = 0; c < ws; ++c) {
                const float vx = dx[i] - static_cast<float>(c);
                // exp in double, each product rounded to float, float sum (spec 02 §2.8)
                const double k = std::exp(-0.5 * (static_cast<double>(vy) * vy +
                                                  static_cast<double>(vx) * vx) * inv);
                l += static_cast<float>(R[r * ws + c] * k);
            }
        }
        out_landmark[i] = l;
        sum += static_cast<float>(std::log(static_cast<double>(l) + 1e-8));
        ++count;
    }
    return count > 0 ? sum / static_cast<float>(count) : 0.f;
}

namespace {

// out[t * ld + i] = maps[i * N + t] for i < n, t < N.
void transpose_maps(const float* maps, int n, size_t N, float* out, int ld) {
    int i0 = 0;
#if defined(__SSE2__)
    // 4 x 4 tiles in registers (4 loads, 8 shuffles, 4 stores for 16 floats).
    size_t t4 = N / 4 * 4;
    for (; i0 + 4 <= n; i0 += 4) {
        const float* m0 = maps + static_cast<size_t>(i0) * N;
        for (size_t t = 0; t < t4; t += 4) {
            __m128 r0 = _mm_loadu_ps(m0 + t), r1 = _mm_loadu_ps(m0 + N + t);
            __m128 r2 = _mm_loadu_ps(m0 + 2 * N + t), r3 = _mm_loadu_ps(m0 + 3 * N + t);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(out + t * ld + i0, r0);
            _mm_storeu_ps(out + (t + 1) * ld + i0, r1);
            _mm_storeu_ps(out + (t + 2) * ld + i0, r2);
            _mm_storeu_ps(out + (t + 3) * ld + i0, r3);
        }
        for (size_t t = t4; t < N; ++t)
            for (int i = i0; i < i0 + 4; ++i) out[t * ld + i] = maps[i * N + t];
    }
#endif
    for (; i0 < n; ++i0)
        for (size_t t = 0; t < N; ++t) out[t * ld + i0] = maps[i0 * N + t];
}

template <typename Image>
ScaleResult fit_scale_impl(const Image& img, const Pdm& pdm, const CcnfScale& scale,
                           const SigmaSet& sigmas, const float* grid, const ScaleSettings& s,
                           Global& g, float* q, const FitOptions& opt) {
    const int n = pdm.n;
    if (scale.n != n) throw std::invalid_argument("fit_scale: PDM and patch experts disagree on n");
    ScaleResult res;
    res.view = view_index(scale, g[1], g[2], g[3]);
    if (sigmas.ws == s.ws && sigmas.n_views == scale.n_views) sigmas.ensure_view(res.view);

    std::vector<float> base(2 * n), ref(2 * n);
    shape2d(pdm, g, q, base.data());
    const Global ref_g{static_cast<float>(scale.patch_scaling), 0.f, 0.f, 0.f, 0.f, 0.f};
    shape2d(pdm, ref_g, q, ref.data());

    PhaseInputs in;
    in.pdm = &pdm;
    in.A = align_with_scale(base.data(), ref.data(), n);
    in.Ainv = invert2x2(in.A);
    const size_t N = static_cast<size_t>(s.ws) * s.ws;
    std::vector<float> maps(static_cast<size_t>(n) * N, 0.f);
    // Only the first row of A^-1 is used (exact-similarity quirk, spec 01 §5.1).
    responses(img, scale, sigmas, res.view, s.ws, base.data(), in.Ainv[0], -in.Ainv[1],
              maps.data(), opt.isa, opt.reference);
    in.maps = maps.data();
    // Per thread, reused: every entry is written below (the padding lanes past n with zeros).
    static thread_local std::vector<float> maps_t;
    if (!opt.reference) {
        // Landmark-minor copy for the mean-shift kernel (vectors across landmarks).
        in.kernels = &kernels(opt.isa);
        in.ld = pad16(n);
        if (maps_t.size() < N * in.ld) maps_t.resize(N * in.ld);
        transpose_maps(maps.data(), n, N, maps_t.data(), in.ld);
        if (n < in.ld)
            for (size_t t = 0; t < N; ++t) std::fill_n(maps_t.data() + t * in.ld + n, in.ld - n, 0.f);
        in.maps_t = maps_t.data();
    }
    in.visible = scale.visibility.data() + static_cast<size_t>(res.view) * n;
    std::vector<float> conf(n);
    for (int i = 0; i < n; ++i) conf[i] = scale.experts[static_cast<size_t>(res.view) * n + i].confidence;
    in.confidence = conf.data();
    in.base = base.data();
    in.grid = grid;

    PhaseOutput rigid = nurlms_phase(in, s, true, g, q);
    res.rigid_iterations = rigid.updates;
    PhaseOutput nonrigid = nurlms_phase(in, s, false, g, q);
    res.nonrigid_iterations = nonrigid.updates;
    res.converged = nonrigid.converged;
    if (s.likelihood || g[0] < s.likelihood_below_scale) {
        res.has_likelihood = true;
        res.landmark_likelihoods.assign(n, 0.f);
        res.model_likelihood =
            in.kernels ? in.kernels->likelihoods_t(in.maps_t, in.ld, in.visible, n, s.ws,
                                                   nonrigid.dx.data(), nonrigid.dy.data(),
                                                   s.sigma, res.landmark_likelihoods.data())
                       : likelihoods(maps.data(), in.visible, n, s.ws, nonrigid.dx.data(),
                                     nonrigid.dy.data(), s.sigma, res.landmark_likelihoods.data());
    }
    return res;
}

}  // namespace

ScaleResult fit_scale(const ImageF& img, const Pdm& pdm, const CcnfScale& scale,
                      const SigmaSet& sigmas, const float* grid, const ScaleSettings& s,
                      Global& g, float* q, const FitOptions& opt) {
    return fit_scale_impl(img, pdm, scale, sigmas, grid, s, g, q, opt);
}

ScaleResult fit_scale(const ImageU8& img, const Pdm& pdm, const CcnfScale& scale,
                      const SigmaSet& sigmas, const float* grid, const ScaleSettings& s,
                      Global& g, float* q, const FitOptions& opt) {
    return fit_scale_impl(img, pdm, scale, sigmas, grid, s, g, q, opt);
}

}  // namespace fastclnf
