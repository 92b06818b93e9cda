// KDE mean-shift over CCNF response maps (spec 02 §2.5).
#pragma once
#include <vector>

namespace fastclnf {

// Precomputed Gaussian kernel table for window ws on a 0.1-px grid: (10 ws)^2 rows x ws^2 cols,
// row ix*(10 ws)+iy, column r*ws+c = exp(a((gy-r)^2 + (gx-c)^2)), a = -0.5/sigma^2.
std::vector<float> kde_grid(int ws, float a);

// Mean-shift vectors in the reference frame for n landmarks. maps: n x ws x ws; visible[i] == 0
// gives (0, 0). dx, dy: current positions in map coordinates (unclamped).
void mean_shift(const float* maps, const int* visible, int n, int ws, const float* dx,
                const float* dy, const float* grid, float* out_x, float* out_y);

}  // namespace fastclnf
