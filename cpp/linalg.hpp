// Small dense linear-algebra helpers shared by the PDM and the NU-RLMS solver.
//
// Header-only, pure functions over caller-owned row-major arrays. They reproduce the *kind* of
// arithmetic OpenCV uses where OpenFace relies on it (float storage with double accumulators),
// not OpenCV's code; bit-exact parity with OpenCV's SVD/BLAS is not a goal (spec 01 §3, §9.3).
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

namespace fastclnf::linalg {

// Solve H x = b for a symmetric positive-definite n x n matrix H (row-major, float storage) by
// Cholesky factorisation, the way OpenCV's solve(DECOMP_CHOLESKY) does for float matrices
// (spec 02 §2.4 step 10):
//   * only the lower triangle of H is read; H is overwritten by the factor L (with the
//     *reciprocal* of each diagonal entry stored on the diagonal);
//   * factorisation and both substitutions accumulate in double, every stored value is float;
//     off-diagonal products are float products (float*float) added to the double accumulator,
//     diagonal squares are formed in double;
//   * a pivot residual below FLT_EPSILON means "not positive definite": return false and leave
//     an all-zero solution in b (OpenCV's solve zero-fills its output on failure, which the
//     optimisers then apply as "no update"; spec 02 §8 notes this is inferred, not observed).
// On success b holds the solution x.
inline bool cholesky_solve(float* H, float* b, int n) {
    float* L = H;
    for (int i = 0; i < n; ++i) {
        double s = 0.0;
        for (int j = 0; j < i; ++j) {
            s = L[i * n + j];
            for (int k = 0; k < j; ++k) s -= L[i * n + k] * L[j * n + k];
            L[i * n + j] = static_cast<float>(s * L[j * n + j]);
        }
        s = L[i * n + i];
        for (int k = 0; k < i; ++k) {
            const double t = L[i * n + k];
            s -= t * t;
        }
        if (!(s >= static_cast<double>(FLT_EPSILON))) {  // also catches NaN
            std::fill(b, b + n, 0.0f);
            return false;
        }
        L[i * n + i] = static_cast<float>(1.0 / std::sqrt(s));
    }
    // Forward substitution L y = b.
    for (int i = 0; i < n; ++i) {
        double s = b[i];
        for (int k = 0; k < i; ++k) s -= L[i * n + k] * b[k];
        b[i] = static_cast<float>(s * L[i * n + i]);
    }
    // Back substitution L^T x = y.
    for (int i = n - 1; i >= 0; --i) {
        double s = b[i];
        for (int k = n - 1; k > i; --k) s -= L[k * n + i] * b[k];
        b[i] = static_cast<float>(s * L[i * n + i]);
    }
    return true;
}

// Singular value decomposition A = U diag(w) Vt of a small square N x N matrix (N = 2 or 3 in
// practice), one-sided (Hestenes) Jacobi: columns of a working copy of A are rotated pairwise
// until orthogonal; their norms are the singular values, the accumulated rotations form V.
// Storage is T (float or double), dot products accumulate in double. Singular values are sorted
// in decreasing order; U and V are orthogonal (for a rank-deficient A the missing columns of U
// are completed to an orthonormal basis, with a deterministic choice).
template <typename T, int N>
void svd_square(const T* A, T* U, T* w, T* Vt) {
    T a[N * N];  // working copy, column j = current A V column j
    T v[N * N];  // V, row-major
    for (int i = 0; i < N * N; ++i) a[i] = A[i];
    for (int r = 0; r < N; ++r)
        for (int c = 0; c < N; ++c) v[r * N + c] = r == c ? T(1) : T(0);

    const double eps = static_cast<double>(std::numeric_limits<T>::epsilon());
    for (int sweep = 0; sweep < 60; ++sweep) {
        bool rotated = false;
        for (int p = 0; p < N - 1; ++p) {
            for (int q = p + 1; q < N; ++q) {
                double alpha = 0, beta = 0, gamma = 0;
                for (int r = 0; r < N; ++r) {
                    const double x = a[r * N + p], y = a[r * N + q];
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if (!(std::abs(gamma) > eps * std::sqrt(alpha * beta))) continue;
                rotated = true;
                // Rotation angle that zeroes the (p, q) entry of (AV)^T (AV).
                const double zeta = (beta - alpha) / (2.0 * gamma);
                const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::abs(zeta) + std::sqrt(1.0 + zeta * zeta));
                const double c = 1.0 / std::sqrt(1.0 + t * t);
                const double s = c * t;
                for (int r = 0; r < N; ++r) {
                    const double x = a[r * N + p], y = a[r * N + q];
                    a[r * N + p] = static_cast<T>(c * x - s * y);
                    a[r * N + q] = static_cast<T>(s * x + c * y);
                    const double vx = v[r * N + p], vy = v[r * N + q];
                    v[r * N + p] = static_cast<T>(c * vx - s * vy);
                    v[r * N + q] = static_cast<T>(s * vx + c * vy);
                }
            }
        }
        if (!rotated) break;
    }

    double norms[N];
    int order[N];
    for (int j = 0; j < N; ++j) {
        double s = 0;
        for (int r = 0; r < N; ++r) s += static_cast<double>(a[r * N + j]) * a[r * N + j];
        norms[j] = std::sqrt(s);
        order[j] = j;
    }
    std::stable_sort(order, order + N, [&](int x, int y) { return norms[x] > norms[y]; });

    // Columns whose singular value is negligible relative to the largest are completed later.
    const double tiny = norms[order[0]] * eps * N;
    bool have[N];
    for (int k = 0; k < N; ++k) {
        const int j = order[k];
        w[k] = static_cast<T>(norms[j]);
        have[k] = norms[j] > tiny && norms[j] > 0;
        for (int r = 0; r < N; ++r) {
            U[r * N + k] = have[k] ? static_cast<T>(a[r * N + j] / norms[j]) : T(0);
            Vt[k * N + r] = v[r * N + j];
        }
    }
    for (int k = 0; k < N; ++k) {
        if (have[k]) continue;
        // Gram-Schmidt the unit vector that keeps the largest residual against the columns
        // already in U (deterministic; any completion gives a valid SVD).
        double best[N] = {};
        double best_norm = -1;
        for (int e = 0; e < N; ++e) {
            double cand[N] = {};
            cand[e] = 1;
            for (int k2 = 0; k2 < N; ++k2) {
                if (!have[k2]) continue;
                double d = 0;
                for (int r = 0; r < N; ++r) d += cand[r] * U[r * N + k2];
                for (int r = 0; r < N; ++r) cand[r] -= d * U[r * N + k2];
            }
            double nn = 0;
            for (int r = 0; r < N; ++r) nn += cand[r] * cand[r];
            if (nn > best_norm) {
                best_norm = nn;
                std::copy(cand, cand + N, best);
            }
        }
        const double inv = 1.0 / std::sqrt(best_norm);
        for (int r = 0; r < N; ++r) U[r * N + k] = static_cast<T>(best[r] * inv);
        have[k] = true;
    }
}

// Orthogonal polar factor R of a non-singular 3x3 matrix M (row-major, double): the R of
// M = R P with P symmetric positive definite, which is U Vt of M's SVD. Newton's iteration
// X <- (X + X^-T) / 2 converges quadratically; from a matrix that is orthogonal to float
// precision (products of float rotations) two or three steps reach double rounding, some 50x
// cheaper than the Jacobi SVD. Returns false (R unspecified) when M is singular to working
// precision or the iteration does not settle: the caller then takes the SVD route.
inline bool polar3(const double* M, double* R) {
    double X[9];
    std::copy(M, M + 9, X);
    for (int it = 0; it < 12; ++it) {
        // Cofactors: X^-T = C / det(X).
        const double C[9] = {X[4] * X[8] - X[5] * X[7], X[5] * X[6] - X[3] * X[8], X[3] * X[7] - X[4] * X[6],
                             X[2] * X[7] - X[1] * X[8], X[0] * X[8] - X[2] * X[6], X[1] * X[6] - X[0] * X[7],
                             X[1] * X[5] - X[2] * X[4], X[2] * X[3] - X[0] * X[5], X[0] * X[4] - X[1] * X[3]};
        const double det = X[0] * C[0] + X[1] * C[1] + X[2] * C[2];
        if (!(std::abs(det) > 1e-12)) return false;  // also catches NaN
        const double inv = 1.0 / det;
        double delta = 0.0;
        for (int k = 0; k < 9; ++k) {
            const double y = 0.5 * (X[k] + C[k] * inv);
            delta = std::max(delta, std::abs(y - X[k]));
            X[k] = y;
        }
        // The error after a step is about the square of the step: below 1e-9 it is at rounding.
        if (delta < 1e-9) {
            std::copy(X, X + 9, R);
            return true;
        }
    }
    return false;
}

// Determinant of a row-major 3x3 matrix, evaluated in double.
template <typename T>
double det3(const T* M) {
    const double a = M[0], b = M[1], c = M[2], d = M[3], e = M[4], f = M[5], g = M[6], h = M[7], i = M[8];
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

// C = A B for row-major 3x3 matrices, in T arithmetic (plain loop, fixed summation order).
template <typename T>
void matmul3(const T* A, const T* B, T* C) {
    T out[9];
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
            T s = A[r * 3 + 0] * B[0 * 3 + c];
            s += A[r * 3 + 1] * B[1 * 3 + c];
            s += A[r * 3 + 2] * B[2 * 3 + c];
            out[r * 3 + c] = s;
        }
    std::copy(out, out + 9, C);
}

}  // namespace fastclnf::linalg
