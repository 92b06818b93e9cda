// PDM: Point Distribution Model (spec 01 §2-3).
//
// A face shape is a 3-D mean shape plus a linear combination of m modes (the "local"
// parameters q), rotated, scaled and translated by the 6 "global" parameters g and projected
// orthographically onto the image. Shapes are stored coordinate-major: a 2-D shape is
// [x_0..x_{n-1}, y_0..y_{n-1}], a 3-D shape [X.., Y.., Z..].
#pragma once
#include <vector>

#include "common.hpp"

namespace fastclnf {

struct Pdm {
    int n = 0;                 // landmarks
    int m = 0;                 // modes
    std::vector<float> mean;   // 3n
    std::vector<float> V;      // 3n x m, row-major
    std::vector<float> eig;    // m eigenvalues (variances)
    // Derived by pdm_derive(): V transposed, m rows of 3n, so that S(q) = mean + V q runs as
    // vector operations across coordinates with each coordinate's sum still in mode order.
    // Empty: the scalar per-coordinate loops are used (same results).
    std::vector<float> Vt;
};

// Fills the derived members (Vt) after mean/V/eig are set.
void pdm_derive(Pdm& pdm);

// R = Rx(rx) Ry(ry) Rz(rz), row-major 3x3 (spec 01 §3.1).
std::array<float, 9> euler_to_rotation(float rx, float ry, float rz);
// Quaternion route back to Euler angles (spec 01 §3.2).
std::array<float, 3> rotation_to_euler(const std::array<float, 9>& R);

// S(q) = mean + V q (spec 01 §3.3), 3n floats.
void shape3d(const Pdm& pdm, const float* q, float* out3n);
// Scaled orthographic projection of S(q) by g (spec 01 §3.3), 2n floats.
void shape2d(const Pdm& pdm, const Global& g, const float* q, float* out2n);
// (min_x, min_y, max_x - min_x, max_y - min_y) of a 2n shape [x.., y..] (spec 01 §3.3).
std::array<float, 4> bbox_of_shape(const float* shape2n, int n);

// shape2d / jacobian from an already computed S = shape3d(q) (what they compute first), so that
// a caller needing several of them for the same q computes S once. Identical results.
void shape2d_from3d(const Pdm& pdm, const Global& g, const float* S3n, float* out2n);
void jacobian_from3d(const Pdm& pdm, const Global& g, const float* S3n, float* J, bool full);

// Full Jacobian, 2n x (6+m) row-major (spec 01 §3.4). Rotation columns are derivatives w.r.t. an
// incremental rotation applied on the right.
void jacobian(const Pdm& pdm, const Global& g, const float* q, float* J);
// Rigid Jacobian, 2n x 6 row-major.
void rigid_jacobian(const Pdm& pdm, const Global& g, const float* q, float* J);

// Apply an update delta (6 or 6+m entries) in place (spec 01 §3.6). With 6 entries q is not
// touched (and may be null). Throws std::invalid_argument for any other n_delta.
void apply_update(Global& g, float* q, int m, const float* delta, int n_delta);
// The rotation part of apply_update: Euler angles of R(rx, ry, rz) * ortho(I + [w]x), through the
// Rodrigues round trip (1e-5 rad snap) and the NaN -> 0 fallback (spec 01 §3.6 steps 2-8).
std::array<float, 3> compose_rotation(const std::array<float, 3>& euler, const std::array<float, 3>& w);
// Clamp q_j to +-3 sqrt(eig_j) (spec 01 §3.5).
void clamp_local(const Pdm& pdm, float* q);

// Global parameters whose rendered shape fills the box (x, y, w, h) (spec 01 §3.7).
Global params_from_bbox(const Pdm& pdm, const std::array<float, 4>& box, const float* q,
                        const std::array<float, 3>& rot);

// Fit g and q to 2-D landmarks (2n, x == 0 means missing) (spec 01 §3.8). Returns iterations run
// (number of updates applied). Throws std::invalid_argument when every landmark is missing.
int params_from_landmarks(const Pdm& pdm, const float* landmarks2n, const std::array<float, 3>& rot,
                          Global& g, float* q);

}  // namespace fastclnf
