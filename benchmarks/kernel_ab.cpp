// Same-process A/B of the NU-RLMS kernels of two source trees (see kernel_ab.sh): each tree's
// kernels.cpp/simd.cpp is compiled with its namespace renamed (fastclnf_a / fastclnf_b), both are
// linked here, and each kernel is timed interleaved A, B, A, B ... (best of 300), with a check
// that both give the same bits. Active SIMD level of the machine.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels.hpp"  // layout of the Kernels table (the same in both trees)

const void* kernels_a();  // the two trees' tables, same layout
const void* kernels_b();
std::size_t chol_scratch_a(int n);
std::size_t chol_scratch_b(int n);

using Clock = std::chrono::steady_clock;
static double us(Clock::time_point a, Clock::time_point b, int reps) {
    return std::chrono::duration<double, std::micro>(b - a).count() / reps;
}

int main() {
    const fastclnf::Kernels* ks[2] = {static_cast<const fastclnf::Kernels*>(kernels_a()),
                                       static_cast<const fastclnf::Kernels*>(kernels_b())};
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    std::uniform_real_distribution<float> ud(0.f, 1.f);
    // mean-shift: main model (68 landmarks) at ws 11, 9, 7; eyes (28) at ws 5, 3; positions moving
    // every call (the KDE table of ws 11 is 5.8 MB)
    const int cases[5][2] = {{68, 11}, {68, 9}, {68, 7}, {28, 5}, {28, 3}};
    for (const auto& cs : cases) {
        const int n = cs[0], ws = cs[1], N = ws * ws, G = 10 * ws, ldm = fastclnf::pad16(n);
        std::vector<float> grid(static_cast<size_t>(G) * G * N), maps(static_cast<size_t>(N) * ldm);
        for (auto& x : grid) x = ud(rng);
        for (auto& x : maps) x = ud(rng);
        std::vector<int> vis(n);
        for (int i = 0; i < n; ++i) vis[i] = (i % 7) != 3;
        std::vector<float> dx(n), dy(n), ox[2], oy[2];
        double best[2] = {1e9, 1e9};
        for (int rep = 0; rep < 300; ++rep)
            for (int w = 0; w < 2; ++w) {
                std::mt19937 r2(rep);
                std::uniform_real_distribution<float> u2(-0.5f, ws + 0.5f);
                for (int i = 0; i < n; ++i) dx[i] = u2(r2), dy[i] = u2(r2);
                ox[w].assign(n, 0.f);
                oy[w].assign(n, 0.f);
                auto t0 = Clock::now();
                for (int it = 0; it < 20; ++it)
                    ks[w]->mean_shift_t(maps.data(), ldm, vis.data(), n, ws, dx.data(), dy.data(),
                                        grid.data(), ox[w].data(), oy[w].data());
                best[w] = std::min(best[w], us(t0, Clock::now(), 20));
            }
        std::printf("mean_shift_t n=%d ws=%2d  A %.3f us  B %.3f us  A/B %.2f  same bits %d\n", n, ws,
                    best[0], best[1], best[0] / best[1], int(ox[0] == ox[1] && oy[0] == oy[1]));
    }
    for (int P : {6, 16, 38, 40}) {  // rigid, eyes, inner, main
        const int rows = P == 16 ? 56 : P == 38 ? 102 : 136, half = rows / 2;
        std::vector<float> J(static_cast<size_t>(rows) * P + fastclnf::kPad, 0.f), mu(rows);
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < P; ++c)  // translation columns as in a PDM Jacobian
                J[r * P + c] = c == 4 ? (r < half) : c == 5 ? (r >= half) : nd(rng);
        for (auto& x : mu) x = nd(rng);
        const int ldh = fastclnf::pad16(P);
        double bn[2] = {1e9, 1e9}, bc[2] = {1e9, 1e9};
        std::vector<float> Hs[2], bs[2], xs[2];
        for (int rep = 0; rep < 300; ++rep)
            for (int w = 0; w < 2; ++w) {
                const fastclnf::Kernels& k = *ks[w];
                std::vector<float> H(static_cast<size_t>(P) * ldh), b(P), x(P);
                std::vector<double> chol((w ? chol_scratch_b(P) : chol_scratch_a(P)) / 2 + 8);
                auto t0 = Clock::now();
                for (int it = 0; it < 50; ++it)
                    k.normal_equations(J.data(), J.data(), mu.data(), rows, P, H.data(), ldh, b.data());
                auto t1 = Clock::now();
                for (int a = 0; a < P; ++a) H[a * ldh + a] += 10.f;
                auto t2 = Clock::now();
                for (int it = 0; it < 50; ++it) {
                    std::memcpy(x.data(), b.data(), P * sizeof(float));
                    k.cholesky_solve(H.data(), ldh, x.data(), P, reinterpret_cast<float*>(chol.data()));
                }
                auto t3 = Clock::now();
                bn[w] = std::min(bn[w], us(t0, t1, 50));
                bc[w] = std::min(bc[w], us(t2, t3, 50));
                Hs[w] = H, bs[w] = b, xs[w] = x;
            }
        std::printf("P=%2d rows=%3d normal_equations A %.3f B %.3f A/B %.2f | cholesky_solve A %.3f B %.3f "
                    "A/B %.2f | same bits %d\n", P, rows, bn[0], bn[1], bn[0] / bn[1], bc[0], bc[1],
                    bc[0] / bc[1], int(Hs[0] == Hs[1] && bs[0] == bs[1] && xs[0] == xs[1]));
    }
}
