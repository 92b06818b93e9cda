// Layer primitives shared by the MTCNN face detector and the CNN detection validator (spec 03 §1.3,
// spec 02 §5.4). float32 throughout, like OpenFace. Activations are planar maps (C × H × W,
// row-major within a map) or a flat vector.
#pragma once
#include <cstddef>
#include <vector>

namespace fastclnf::cnn {

enum class LayerKind { Conv, MaxPool, FullyConnected, PReLU, ReLU, Sigmoid };

// One layer. Which fields are used depends on `kind`:
//   Conv:           n_in, n_out, kh, kw; weights[n_out][n_in·kh·kw] (GEMM rows: c, then r, then s);
//                   bias[n_out].
//   FullyConnected: n_in, n_out; weights[n_in][n_out] as stored in the file; weights_t = its
//                   transpose [n_out][n_in] (for the 1×1-convolution case); bias[n_out].
//   MaxPool:        kx, ky, sx, sy.
//   PReLU:          weights = slopes (one per channel, or per element of a vector).
struct Layer {
    LayerKind kind = LayerKind::ReLU;
    int n_in = 0, n_out = 0, kh = 0, kw = 0;
    int kx = 0, ky = 0, sx = 0, sy = 0;
    std::vector<float> weights, weights_t, bias;
    // Conv and FullyConnected: weights in the blocked order of the direct kernels
    // (cnn_kernels.hpp), filled by pack(); the FC copy serves the 1×1-convolution case.
    std::vector<float> packed;
    // FullyConnected: weights and bias with n_out padded to fc_ld (a multiple of the widest
    // vector tile) by zero columns, for the vector case of the direct kernels.
    std::vector<float> fc_w, fc_b;
    int fc_ld = 0;
};

// Fills layer.packed (call once after the weights are set; forward() needs it).
void pack(Layer& layer);

using Net = std::vector<Layer>;

// An activation: `c` maps of h × w, or a vector of c elements (flat, h = w = 1).
struct Tensor {
    int c = 0, h = 0, w = 0;
    bool flat = false;
    std::vector<float> data;
};

// Scratch buffers reused across layers and calls (no global state: the caller owns them).
struct Workspace {
    std::vector<float> col;  // im2col tile (reference path), flattened maps
    Tensor tmp;              // ping-pong activation (reference path)
    std::vector<float> a, b; // strided activations (forward)
    std::vector<std::ptrdiff_t> offsets;  // input offset of each k of a convolution
    std::vector<float> panel;             // row-tail im2col panel of a convolution (cnn_kernels.inc)
    std::vector<std::ptrdiff_t> panel_offsets;
    const struct CnnKernels* kernels = nullptr;  // forward's SIMD level; null: active_isa()
};

// Pooled output length: round((n − k)/s) + 1 with the division in float32 and C rounding (spec
// 03 §1.3); equals Caffe's ceil-mode pooling for every pool in the shipped nets.
int pooled_size(int n, int k, int s);

// Shape of the activation after `net` for an input of c × h × w maps; throws
// std::invalid_argument naming the layer that cannot take its input.
Tensor output_shape(const Net& net, int c, int h, int w);

// Checks a layer's internal consistency (sizes of weights/bias vs. declared counts); throws
// std::invalid_argument.
void check_layer(const Layer& layer);

// C[m][n] = bias[m] + Σ_k A[m][k]·B[k][n] for m < M, n < N. A is M×K row-major, B has row
// stride ldb, C row stride ldc. Register-blocked; no summation-order promises beyond float32.
void gemm_bias(const float* A, int M, int K, const float* B, int ldb, int N, const float* bias,
               float* C, int ldc);

// Valid cross-correlation, stride 1, no kernel flip (spec 03 §1.3): im2col over row tiles plus
// gemm_bias. `in` is layer.n_in maps of h × w; `out` gets n_out maps of (h−kh+1) × (w−kw+1).
void conv_valid(const float* in, int h, int w, const Layer& layer, float* out,
                std::vector<float>& col);

// y = x (x ≥ 0) or slope·x, slope per channel (maps of hw elements each).
void prelu(float* x, int c, int hw, const float* slopes);
void relu(float* x, std::size_t n);
void sigmoid(float* x, std::size_t n);

// Max-pool with windows truncated at the bottom/right edge (no padding value takes part).
void max_pool(const float* in, int c, int h, int w, int kx, int ky, int sx, int sy, float* out,
              int oh, int ow);

// Runs `net` on `x` in place (x becomes the output). Fully connected layers follow spec 03 §1.3:
// maps with c == n_in → 1×1 convolution; other maps → flatten channel-major, column-major within
// a map (index c·H·W + x·H + y); vectors → weightsᵀ·v + bias.
// forward: the direct SIMD kernels of the active level (FMA on AVX2/AVX-512, so float rounding
// differs from the reference there); the layers must be pack()ed.
void forward(const Net& net, Tensor& x, Workspace& ws);
// The same from a raw input of c planes of h × w (plane stride h·w); the input must not alias ws.
void forward(const Net& net, const float* in, int c, int h, int w, Tensor& out, Workspace& ws);
// forward() split for batches of inputs of one size (MTCNN's RNet/ONet candidates):
// forward_trunk runs the layers up to the first fully connected layer that takes a vector and
// returns its index, with that layer's flattened input in `out` (or net.size() and the whole
// output); forward_head runs layers [from, end) on n such vectors (rows of v, n_in each) at once,
// sharing each weight load among up to four of them, into `out` (n rows of the returned size).
// The results are the same as forward()'s, bit for bit.
std::size_t forward_trunk(const Net& net, const float* in, int c, int h, int w, Tensor& out, Workspace& ws);
int forward_head(const Net& net, std::size_t from, const float* v, int n, int n_in, std::vector<float>& out,
                 Workspace& ws);
// The im2col + GEMM reference: unfused float products and sums in k order at every SIMD level.
void forward_reference(const Net& net, Tensor& x, Workspace& ws);

}  // namespace fastclnf::cnn
