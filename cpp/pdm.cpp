// PDM maths (spec 01 §3). Everything OpenFace keeps in float is float here, with products and
// sums written out as plain loops in a fixed order (the build sets -ffp-contract=off so that no
// FMA changes the rounding). Where the spec says OpenCV works in double (Rodrigues, the box
// min/max, norms, Cholesky accumulators) we do too.
#include "pdm.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernels.hpp"
#include "linalg.hpp"

namespace fastclnf {

namespace {

// X_i, Y_i, Z_i of S(q) = mean + V q, accumulated like shape3d: the float dot product V_k . q
// in mode order, then the mean added (spec 01 §3.3). q == nullptr means q = 0.
inline float coord3(const Pdm& pdm, const float* q, int k) {
    if (q == nullptr) return pdm.mean[k];
    const float* row = pdm.V.data() + static_cast<size_t>(k) * pdm.m;
    float acc = 0.0f;
    for (int j = 0; j < pdm.m; ++j) acc += row[j] * q[j];
    return pdm.mean[k] + acc;
}

inline bool is_nan(float x) { return x != x; }

// Rodrigues: rotation matrix -> axis-angle, as OpenCV does it (spec 01 §3.6 step 6). Input float
// matrix, all internals double, result stored as float by the caller.
std::array<double, 3> rotation_to_axis_angle(const std::array<float, 9>& Rf) {
    double Rd[9];
    for (int i = 0; i < 9; ++i) Rd[i] = Rf[i];
    // Re-orthonormalise: R <- U V^T of its SVD, i.e. its polar factor (Newton; the SVD itself
    // only if that fails).
    double R[9];
    if (!linalg::polar3(Rd, R)) {
        double U[9], w[3], Vt[9];
        linalg::svd_square<double, 3>(Rd, U, w, Vt);
        linalg::matmul3(U, Vt, R);
    }

    double rx = R[7] - R[5], ry = R[2] - R[6], rz = R[3] - R[1];
    const double s = std::sqrt((rx * rx + ry * ry + rz * rz) * 0.25);
    double c = (R[0] + R[4] + R[8] - 1.0) * 0.5;
    c = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
    const double theta = std::acos(c);

    if (s < 1e-5) {
        // Quirk (spec 01 §3.6): composite rotations below ~1e-5 rad snap to exactly zero.
        if (c > 0) return {0.0, 0.0, 0.0};
        // Near 180 degrees: R ~ 2 k k^T - I, so |k_a| = sqrt((R_aa + 1) / 2); signs from the
        // off-diagonal terms (k_x k_y ~ R01 / 2, k_x k_z ~ R02 / 2), and when k_x is the smallest
        // component its sign carries no information, so fix k_z against R12 ~ 2 k_y k_z. The spec
        // leaves this branch out (faces never get there); this is the textbook derivation.
        double t = (R[0] + 1.0) * 0.5;
        rx = std::sqrt(std::max(t, 0.0));
        t = (R[4] + 1.0) * 0.5;
        ry = std::sqrt(std::max(t, 0.0)) * (R[1] < 0 ? -1.0 : 1.0);
        t = (R[8] + 1.0) * 0.5;
        rz = std::sqrt(std::max(t, 0.0)) * (R[2] < 0 ? -1.0 : 1.0);
        if (std::abs(rx) < std::abs(ry) && std::abs(rx) < std::abs(rz) && (R[5] > 0) != (ry * rz > 0)) rz = -rz;
        const double norm = std::sqrt(rx * rx + ry * ry + rz * rz);
        const double k = theta / norm;
        return {rx * k, ry * k, rz * k};
    }
    const double k = theta / (2.0 * s);
    return {rx * k, ry * k, rz * k};
}

// Rodrigues: axis-angle (float) -> rotation matrix, double internals, float result (§3.6 step 7).
std::array<float, 9> axis_angle_to_rotation(const std::array<float, 3>& r) {
    const double x = r[0], y = r[1], z = r[2];
    const double theta = std::sqrt(x * x + y * y + z * z);
    if (theta < DBL_EPSILON) return {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const double c = std::cos(theta), s = std::sin(theta), c1 = 1.0 - c;
    const double kx = x / theta, ky = y / theta, kz = z / theta;
    // c I + (1 - c) k k^T + s [k]x
    const double R[9] = {
        c + c1 * kx * kx,       c1 * kx * ky - s * kz,  c1 * kx * kz + s * ky,
        c1 * ky * kx + s * kz,  c + c1 * ky * ky,       c1 * ky * kz - s * kx,
        c1 * kz * kx - s * ky,  c1 * kz * ky + s * kx,  c + c1 * kz * kz,
    };
    std::array<float, 9> out;
    for (int i = 0; i < 9; ++i) out[i] = static_cast<float>(R[i]);
    return out;
}

// A copy of the PDM restricted to the given landmarks (all three coordinate rows of each).
Pdm reduce_pdm(const Pdm& pdm, const std::vector<int>& keep) {
    Pdm r;
    r.n = static_cast<int>(keep.size());
    r.m = pdm.m;
    r.eig = pdm.eig;
    r.mean.resize(3 * static_cast<size_t>(r.n));
    r.V.resize(3 * static_cast<size_t>(r.n) * pdm.m);
    for (int c = 0; c < 3; ++c) {
        for (int k = 0; k < r.n; ++k) {
            const int src = keep[k] + c * pdm.n, dst = k + c * r.n;
            r.mean[dst] = pdm.mean[src];
            std::copy_n(pdm.V.begin() + static_cast<size_t>(src) * pdm.m, pdm.m,
                        r.V.begin() + static_cast<size_t>(dst) * pdm.m);
        }
    }
    pdm_derive(r);
    return r;
}

// (min_x, max_x, min_y, max_y) of a 2n shape [x.., y..], n >= 1, as doubles (exact).
std::array<double, 4> extremes(const float* shape2n, int n) {
    float min_x = shape2n[0], max_x = shape2n[0], min_y = shape2n[n], max_y = shape2n[n];
    for (int i = 1; i < n; ++i) {
        min_x = std::min(min_x, shape2n[i]);
        max_x = std::max(max_x, shape2n[i]);
        min_y = std::min(min_y, shape2n[i + n]);
        max_y = std::max(max_y, shape2n[i + n]);
    }
    return {min_x, max_x, min_y, max_y};
}

// Euclidean norm of (a - b) over len floats, accumulated in double (cv::norm of float data).
double diff_norm(const float* a, const float* b, int len) {
    double s = 0.0;
    for (int i = 0; i < len; ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
        s += d * d;
    }
    return std::sqrt(s);
}

}  // namespace

void pdm_derive(Pdm& pdm) {
    const int n3 = 3 * pdm.n, m = pdm.m;
    pdm.Vt.assign(static_cast<size_t>(m) * n3 + kPad, 0.f);  // + slack for whole-vector reads
    for (int k = 0; k < n3; ++k)
        for (int j = 0; j < m; ++j)
            pdm.Vt[static_cast<size_t>(j) * n3 + k] = pdm.V[static_cast<size_t>(k) * m + j];
}

// ---------------------------------------------------------------------------------------------
// Rotations (spec 01 §3.1, §3.2)

std::array<float, 9> euler_to_rotation(float rx, float ry, float rz) {
    const float s1 = std::sin(rx), c1 = std::cos(rx);
    const float s2 = std::sin(ry), c2 = std::cos(ry);
    const float s3 = std::sin(rz), c3 = std::cos(rz);
    return {
        c2 * c3,                 -c2 * s3,                s2,
        c1 * s3 + c3 * s1 * s2,  c1 * c3 - s1 * s2 * s3,  -c2 * s1,
        s1 * s3 - c1 * c3 * s2,  c3 * s1 + c1 * s2 * s3,  c1 * c2,
    };
}

std::array<float, 3> rotation_to_euler(const std::array<float, 9>& R) {
    // Quaternion route, float arithmetic (§3.2). Near 180 degrees q0 -> 0 and this may return
    // NaN; apply_update turns that into zero angles (§3.6 step 8).
    const float q0 = std::sqrt(1.0f + R[0] + R[4] + R[8]) / 2.0f;
    const float q1 = (R[7] - R[5]) / (4.0f * q0);
    const float q2 = (R[2] - R[6]) / (4.0f * q0);
    const float q3 = (R[3] - R[1]) / (4.0f * q0);
    float t = 2.0f * (q0 * q2 + q1 * q3);
    if (t > 1.0f) t = 1.0f;
    if (t < -1.0f) t = -1.0f;
    const float ry = std::asin(t);
    const float rx = std::atan2(2.0f * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3);
    const float rz = std::atan2(2.0f * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3);
    return {rx, ry, rz};
}

// ---------------------------------------------------------------------------------------------
// Shapes (spec 01 §3.3)

void shape3d(const Pdm& pdm, const float* q, float* out3n) {
    const int n3 = 3 * pdm.n, m = pdm.m;
    if (q == nullptr || pdm.Vt.size() != static_cast<size_t>(n3) * m + kPad) {
        for (int k = 0; k < n3; ++k) out3n[k] = coord3(pdm, q, k);
        return;
    }
    // coord3 for all coordinates at once (kernels.hpp): the same float sum per coordinate.
    kernels().shape3d(pdm.Vt.data(), pdm.mean.data(), n3, m, q, out3n);
}

void shape2d_from3d(const Pdm& pdm, const Global& g, const float* S, float* out2n) {
    const auto R = euler_to_rotation(g[1], g[2], g[3]);
    const float s = g[0], tx = g[4], ty = g[5];
    const int n = pdm.n;
    const float *X = S, *Y = X + n, *Z = Y + n;
    for (int i = 0; i < n; ++i) {
        out2n[i] = s * (R[0] * X[i] + R[1] * Y[i] + R[2] * Z[i]) + tx;
        out2n[i + n] = s * (R[3] * X[i] + R[4] * Y[i] + R[5] * Z[i]) + ty;
    }
}

void shape2d(const Pdm& pdm, const Global& g, const float* q, float* out2n) {
    std::vector<float> S(3 * static_cast<size_t>(pdm.n));
    shape3d(pdm, q, S.data());
    shape2d_from3d(pdm, g, S.data(), out2n);
}

std::array<float, 4> bbox_of_shape(const float* shape2n, int n) {
    if (n <= 0) return {0.0f, 0.0f, 0.0f, 0.0f};
    float min_x = shape2n[0], max_x = shape2n[0], min_y = shape2n[n], max_y = shape2n[n];
    for (int i = 1; i < n; ++i) {
        min_x = std::min(min_x, shape2n[i]);
        max_x = std::max(max_x, shape2n[i]);
        min_y = std::min(min_y, shape2n[i + n]);
        max_y = std::max(max_y, shape2n[i + n]);
    }
    return {min_x, min_y, max_x - min_x, max_y - min_y};
}

// ---------------------------------------------------------------------------------------------
// Jacobians (spec 01 §3.4). Only J; the caller applies its weights.

void jacobian_from3d(const Pdm& pdm, const Global& g, const float* S, float* J, bool full) {
    const auto R = euler_to_rotation(g[1], g[2], g[3]);
    const float s = g[0];
    const int n = pdm.n, m = pdm.m;
    const int cols = full ? 6 + m : 6;
    for (int i = 0; i < n; ++i) {
        const float X = S[i], Y = S[i + n], Z = S[i + 2 * n];
        // Incremental rotation on the right, R (I + [w]x), differentiated at w = 0. Each row's six
        // entries are assembled first and stored as one block (J cannot alias S for the compiler
        // otherwise, which made it 12 single-float stores per point).
        const float rx[6] = {R[0] * X + R[1] * Y + R[2] * Z, s * (Y * R[2] - Z * R[1]),
                             -s * (X * R[2] - Z * R[0]), s * (X * R[1] - Y * R[0]), 1.0f, 0.0f};
        const float ry[6] = {R[3] * X + R[4] * Y + R[5] * Z, s * (Y * R[5] - Z * R[4]),
                             -s * (X * R[5] - Z * R[3]), s * (X * R[4] - Y * R[3]), 0.0f, 1.0f};
        std::memcpy(J + static_cast<size_t>(i) * cols, rx, sizeof rx);
        std::memcpy(J + static_cast<size_t>(i + n) * cols, ry, sizeof ry);
    }
    // Mode columns: s * (R row . V rows of the point), per mode (kernels.hpp, same operations).
    if (full) kernels().jacobian_modes(pdm.V.data(), n, m, R.data(), s, J, cols);
}
namespace {
void jacobian_impl(const Pdm& pdm, const Global& g, const float* q, float* J, bool full) {
    std::vector<float> S(3 * static_cast<size_t>(pdm.n));
    shape3d(pdm, q, S.data());
    jacobian_from3d(pdm, g, S.data(), J, full);
}
}  // namespace

void jacobian(const Pdm& pdm, const Global& g, const float* q, float* J) {
    jacobian_impl(pdm, g, q, J, true);
}

void rigid_jacobian(const Pdm& pdm, const Global& g, const float* q, float* J) {
    jacobian_impl(pdm, g, q, J, false);
}

// ---------------------------------------------------------------------------------------------
// Update and clamp (spec 01 §3.5, §3.6)

std::array<float, 3> compose_rotation(const std::array<float, 3>& euler, const std::array<float, 3>& w) {
    const auto R1 = euler_to_rotation(euler[0], euler[1], euler[2]);
    // R2 = I + [dw]x, made a rotation again: U diag(1, 1, det(U V^T)) V^T (float SVD).
    const float R2[9] = {1.0f, -w[2], w[1], w[2], 1.0f, -w[0], -w[1], w[0], 1.0f};
    float U[9], sv[3], Vt[9], UVt[9], R2o[9];
    linalg::svd_square<float, 3>(R2, U, sv, Vt);
    linalg::matmul3(U, Vt, UVt);
    const float d = static_cast<float>(linalg::det3(UVt));
    for (int r = 0; r < 3; ++r) U[r * 3 + 2] *= d;
    linalg::matmul3(U, Vt, R2o);
    std::array<float, 9> R3;
    linalg::matmul3(R1.data(), R2o, R3.data());

    // Rodrigues round trip (double inside, float between): re-orthonormalises R3 and applies the
    // 1e-5 rad snap (§3.6 steps 6-7).
    const auto aa = rotation_to_axis_angle(R3);
    const std::array<float, 3> aaf = {static_cast<float>(aa[0]), static_cast<float>(aa[1]),
                                      static_cast<float>(aa[2])};
    auto e = rotation_to_euler(axis_angle_to_rotation(aaf));
    // Quirk (§3.6 step 8): any NaN angle resets all three to 0.
    if (is_nan(e[0]) || is_nan(e[1]) || is_nan(e[2])) e = {0.0f, 0.0f, 0.0f};
    return e;
}

void apply_update(Global& g, float* q, int m, const float* delta, int n_delta) {
    if (n_delta != 6 && n_delta != 6 + m)
        throw std::invalid_argument("apply_update: delta must have 6 or 6+m entries");
    g[0] += delta[0];
    g[4] += delta[4];
    g[5] += delta[5];
    const auto e = compose_rotation({g[1], g[2], g[3]}, {delta[1], delta[2], delta[3]});
    g[1] = e[0];
    g[2] = e[1];
    g[3] = e[2];
    if (n_delta > 6)
        for (int j = 0; j < m; ++j) q[j] += delta[6 + j];
}

void clamp_local(const Pdm& pdm, float* q) {
    for (int j = 0; j < pdm.m; ++j) {
        const float lim = 3.0f * std::sqrt(pdm.eig[j]);
        if (q[j] > lim) q[j] = lim;
        else if (q[j] < -lim) q[j] = -lim;
    }
}

// ---------------------------------------------------------------------------------------------
// Initialisation (spec 01 §3.7, §3.8)

Global params_from_bbox(const Pdm& pdm, const std::array<float, 4>& box, const float* q,
                        const std::array<float, 3>& rot) {
    const auto R = euler_to_rotation(rot[0], rot[1], rot[2]);
    const int n = pdm.n;
    float min_x = std::numeric_limits<float>::infinity(), max_x = -min_x;
    float min_y = min_x, max_y = -min_x;
    for (int i = 0; i < n; ++i) {
        const float X = coord3(pdm, q, i), Y = coord3(pdm, q, i + n), Z = coord3(pdm, q, i + 2 * n);
        const float x = R[0] * X + R[1] * Y + R[2] * Z;  // R S in float, no scale
        const float y = R[3] * X + R[4] * Y + R[5] * Z;
        min_x = std::min(min_x, x);
        max_x = std::max(max_x, x);
        min_y = std::min(min_y, y);
        max_y = std::max(max_y, y);
    }
    // From the min/max on, float arithmetic in this order: it reproduces OpenFace's initial
    // parameters bit for bit on 341 of the 343 reference faces (the other two differ by one float
    // ulp in ty), where double arithmetic rounded once matches only 118 (spec 02 §3 says double;
    // the reference numbers say float).
    const float width = std::abs(max_x - min_x);
    const float height = std::abs(max_y - min_y);
    const float bx = box[0], by = box[1], bw = box[2], bh = box[3];
    const float s = (bw / width + bh / height) / 2.0f;
    const float tx = (bx + bw / 2.0f) - s * ((min_x + max_x) / 2.0f);
    const float ty = (by + bh / 2.0f) - s * ((min_y + max_y) / 2.0f);
    return {s, rot[0], rot[1], rot[2], tx, ty};
}

int params_from_landmarks(const Pdm& pdm, const float* landmarks2n, const std::array<float, 3>& rot,
                          Global& g, float* q) {
    const int n_full = pdm.n, m = pdm.m;
    // 1. Quirk: a landmark is missing iff its x is exactly 0 (y is not looked at).
    std::vector<int> keep;
    keep.reserve(n_full);
    for (int i = 0; i < n_full; ++i)
        if (landmarks2n[i] != 0.0f) keep.push_back(i);
    if (keep.empty())
        throw std::invalid_argument("params_from_landmarks: every landmark is missing (x == 0)");
    // With every landmark present (the usual case: part targets and merged points) the reduced
    // PDM is the PDM itself; no copy.
    Pdm reduced;
    if (static_cast<int>(keep.size()) != n_full) reduced = reduce_pdm(pdm, keep);
    const Pdm& red = static_cast<int>(keep.size()) == n_full ? pdm : reduced;
    const int n = red.n, rows = 2 * n, cols = 6 + m;
    std::vector<float> L(rows);
    for (int k = 0; k < n; ++k) {
        L[k] = landmarks2n[keep[k]];
        L[k + n] = landmarks2n[keep[k] + n_full];
    }

    // 2-4. Scale from the landmark box against the reduced mean shape's box; translation = the
    // landmark box centre. Quirk: unlike §3.7 the mean shape's off-centre extent is not corrected.
    // The extremes are exact; widths, ratios and centres are formed in double (the spec leaves
    // the precision open here; §3.7 / spec 02 §3 use double after the min/max) and stored float.
    const auto lb = extremes(L.data(), n);
    const auto mb = extremes(red.mean.data(), n);  // mean rendered with g = (1,0,0,0,0,0)
    const double s0 = ((lb[1] - lb[0]) / (mb[1] - mb[0]) + (lb[3] - lb[2]) / (mb[3] - mb[2])) / 2.0;
    const double cx = (lb[0] + lb[1]) / 2.0;
    const double cy = (lb[2] + lb[3]) / 2.0;
    g = {static_cast<float>(s0), rot[0], rot[1], rot[2], static_cast<float>(cx), static_cast<float>(cy)};
    std::fill(q, q + m, 0.0f);

    // 6. Regulariser Lambda = diag(0 x 6, 1/lambda_j) (reg factor 1), weights W = I.
    std::vector<float> reg(m);
    for (int j = 0; j < m; ++j) reg[j] = 1.0f / red.eig[j];

    // J carries kPad floats of slack for the normal-equations kernel's whole-vector reads.
    const int ldh = pad16(cols);
    const Kernels& kern = kernels();
    std::vector<float> shape(rows), J(static_cast<size_t>(rows) * cols + kPad, 0.f), r(rows), S_old(3 * n);
    std::vector<float> Hp(static_cast<size_t>(cols) * ldh), b(cols), delta(cols);
    std::vector<float> chol(cholesky_scratch_floats(cols));

    shape2d(red, g, q, shape.data());
    double err = diff_norm(shape.data(), L.data(), rows);  // 5.
    int not_improved = 0;
    int it = 0;
    while (it < 1000) {
        ++it;
        // a-b. S_old, residual and Jacobian at the current parameters.
        shape3d(red, q, S_old.data());
        shape2d_from3d(red, g, S_old.data(), shape.data());
        for (int k = 0; k < rows; ++k) r[k] = L[k] - shape[k];
        jacobian_from3d(red, g, S_old.data(), J.data(), true);
        // c-d. b = J^T r and H = J^T J (float sums in row order; only H's lower triangle is
        // read by the solver), then - Lambda q and + Lambda.
        kern.normal_equations(J.data(), J.data(), r.data(), rows, cols, Hp.data(), ldh, b.data());
        for (int j = 0; j < m; ++j) b[6 + j] -= reg[j] * q[j];
        for (int j = 0; j < m; ++j) Hp[static_cast<size_t>(6 + j) * ldh + 6 + j] += reg[j];
        std::copy(b.begin(), b.end(), delta.begin());
        kern.cholesky_solve(Hp.data(), ldh, delta.data(), cols, chol.data());  // failure: zero update
        for (int c = 0; c < cols; ++c) delta[c] *= 0.75f;
        // e. Update, no clamping.
        apply_update(g, q, m, delta.data(), cols);
        // f. Quirk: error with the *updated* global parameters but the pre-update 3-D shape.
        const auto R = euler_to_rotation(g[1], g[2], g[3]);
        for (int i = 0; i < n; ++i) {
            const float X = S_old[i], Y = S_old[i + n], Z = S_old[i + 2 * n];
            shape[i] = g[0] * (R[0] * X + R[1] * Y + R[2] * Z) + g[4];
            shape[i + n] = g[0] * (R[3] * X + R[4] * Y + R[5] * Z) + g[5];
        }
        const double err_new = diff_norm(shape.data(), L.data(), rows);
        // g. Quirk: the "not improved" counter is never reset; stop at the third one overall,
        // keeping the update just applied.
        if (0.999 * err < err_new) {
            if (++not_improved >= 3) break;
        }
        err = err_new;  // h.
    }
    return it;
}

}  // namespace fastclnf
