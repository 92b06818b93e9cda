// KDE mean-shift over CCNF response maps (spec 02 §2.5).
#include "meanshift.hpp"

#include "parallel.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace fastclnf {

namespace {
constexpr float kStep = 0.1f;  // grid step in map pixels

// trunc(v / 0.1f + 0.5): float quotient, double addition (the literal 0.5 is a double).
// The clamp to [0, G-1] is only a guard (NaN positions); clamped finite inputs stay in range.
int grid_index(float v, int G) {
    const double q = static_cast<double>(v / kStep) + 0.5;
    if (!(q >= 0.0)) return 0;
    if (q >= static_cast<double>(G - 1)) return G - 1;
    return static_cast<int>(q);
}
}  // namespace

std::vector<float> kde_grid(int ws, float a) {
    if (ws <= 0) throw std::invalid_argument("kde_grid: window size must be positive");
    // ws / 0.1f is exactly 10 ws for the odd windows 3..15 the models use (spec 02 §2.5).
    const int G = static_cast<int>(static_cast<float>(ws) / kStep);
    const int N = ws * ws;
    std::vector<float> T(static_cast<size_t>(G) * G * N);
    // Rows of the table are independent: built on all cores the first time a window is used.
    parallel_for(G, 0, [&](int ix) {
        const float gx = static_cast<float>(ix) * kStep;
        for (int iy = 0; iy < G; ++iy) {
            const float gy = static_cast<float>(iy) * kStep;
            float* row = T.data() + (static_cast<size_t>(ix) * G + iy) * N;
            for (int r = 0; r < ws; ++r) {
                const float ddy = gy - static_cast<float>(r);
                for (int c = 0; c < ws; ++c) {
                    const float ddx = gx - static_cast<float>(c);
                    row[r * ws + c] = std::exp(a * (ddy * ddy + ddx * ddx));
                }
            }
        }
    });
    return T;
}

void mean_shift(const float* maps, const int* visible, int n, int ws, const float* dx,
                const float* dy, const float* grid, float* out_x, float* out_y) {
    const int G = static_cast<int>(static_cast<float>(ws) / kStep);
    const int N = ws * ws;
    const float hi = static_cast<float>(ws) - kStep;
    for (int i = 0; i < n; ++i) {
        if (!visible[i]) {
            out_x[i] = 0.f;
            out_y[i] = 0.f;
            continue;
        }
        // Clamp local copies into the map (step 1), then the nearest 0.1-px grid point with halves
        // rounded up: float quotient, double + 0.5, truncation (step 2).
        float x = dx[i], y = dy[i];
        x = std::max(x, 0.f);
        y = std::max(y, 0.f);
        x = std::min(x, hi);
        y = std::min(y, hi);
        const int ix = grid_index(x, G), iy = grid_index(y, G);
        const float* T = grid + (static_cast<size_t>(ix) * G + iy) * N;
        const float* R = maps + static_cast<size_t>(i) * N;
        // Step 3: row-major float accumulation.
        float S = 0.f, Mx = 0.f, My = 0.f;
        for (int r = 0; r < ws; ++r)
            for (int c = 0; c < ws; ++c) {
                const float v = R[r * ws + c] * T[r * ws + c];
                S += v;
                Mx += v * static_cast<float>(c);
                My += v * static_cast<float>(r);
            }
        // Step 4. Quirk: the kernel sat on the rounded grid point, the subtraction uses the clamped
        // unrounded position. S = 0 (an all-zero map) gives NaN, as in OpenFace.
        out_x[i] = Mx / S - x;
        out_y[i] = My / S - y;
    }
}

}  // namespace fastclnf
