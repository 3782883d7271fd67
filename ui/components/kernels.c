// The arithmetic of nets.js in WebAssembly SIMD (four float32 lanes): scalar JavaScript reaches
// about 0.5 G multiply-adds a second, too slow to encode and decode a drawing within one frame.
// nets.js lays the weights and activations out in this module's memory and calls these with byte
// offsets; every layout is PyTorch's (channels, height, width), weights as torch stores them.
//
// Built by `python -m ui.components.build_kernels` (clang and lld, Debian's `clang lld`) into
// kernels.wasm, which is committed: the app and its tests need no compiler.
#include <wasm_simd128.h>

// sum_j w[j] * x[j] for j < n
static float dot(const float *w, const float *x, int n) {
  v128_t a0 = wasm_f32x4_splat(0.f), a1 = wasm_f32x4_splat(0.f);
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(w + j), wasm_v128_load(x + j)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(w + j + 4), wasm_v128_load(x + j + 4)));
  }
  for (; j + 4 <= n; j += 4) a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(w + j), wasm_v128_load(x + j)));
  a0 = wasm_f32x4_add(a0, a1);
  float s = wasm_f32x4_extract_lane(a0, 0) + wasm_f32x4_extract_lane(a0, 1) +
            wasm_f32x4_extract_lane(a0, 2) + wasm_f32x4_extract_lane(a0, 3);
  for (; j < n; j++) s += w[j] * x[j];
  return s;
}

// y[j] += a * x[j] for j < n
static void axpy(float a, const float *x, float *y, int n) {
  v128_t va = wasm_f32x4_splat(a);
  int j = 0;
  for (; j + 4 <= n; j += 4) wasm_v128_store(y + j, wasm_f32x4_add(wasm_v128_load(y + j), wasm_f32x4_mul(va, wasm_v128_load(x + j))));
  for (; j < n; j++) y[j] += a * x[j];
}

// y = W x + b; W (m, n)
void linear(const float *W, const float *b, const float *x, float *y, int n, int m) {
  for (int o = 0; o < m; o++) y[o] = b[o] + dot(W + o * n, x, n);
}

// Conv2d, weight (Co, C, k, k): per output position, the input under the kernel (zero outside the
// picture) gathered into patch (C * k * k floats), then one dot product per output channel.
void conv2d(const float *w, const float *b, const float *x, float *y, float *patch,
            int C, int H, int W, int Co, int k, int s, int p) {
  const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1, size = C * k * k;
  for (int oy = 0; oy < Ho; oy++) {
    for (int ox = 0; ox < Wo; ox++) {
      int i = 0;
      for (int ci = 0; ci < C; ci++) {
        for (int ky = 0; ky < k; ky++) {
          const int iy = oy * s - p + ky;
          for (int kx = 0; kx < k; kx++) {
            const int ix = ox * s - p + kx;
            patch[i++] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[(ci * H + iy) * W + ix] : 0.f;
          }
        }
      }
      for (int co = 0; co < Co; co++) y[(co * Ho + oy) * Wo + ox] = b[co] + dot(w + co * size, patch, size);
    }
  }
}

// ConvTranspose2d, weight (C, Co, k, k): per input position, what it adds to every output channel
// and kernel offset (Co * k * k floats in cols: the weights' rows scaled by the input's channels,
// zeros skipped, as a ReLU leaves many), then scattered into the output.
void conv_transpose2d(const float *w, const float *b, const float *x, float *y, float *cols,
                      int C, int H, int W, int Co, int k, int s, int p) {
  const int Ho = (H - 1) * s - 2 * p + k, Wo = (W - 1) * s - 2 * p + k, size = Co * k * k;
  for (int co = 0; co < Co; co++) for (int i = 0; i < Ho * Wo; i++) y[co * Ho * Wo + i] = b[co];
  for (int iy = 0; iy < H; iy++) {
    for (int ix = 0; ix < W; ix++) {
      for (int j = 0; j < size; j++) cols[j] = 0.f;
      for (int ci = 0; ci < C; ci++) {
        const float v = x[(ci * H + iy) * W + ix];
        if (v != 0.f) axpy(v, w + ci * size, cols, size);
      }
      for (int co = 0; co < Co; co++) {
        for (int ky = 0; ky < k; ky++) {
          const int oy = iy * s - p + ky;
          if (oy < 0 || oy >= Ho) continue;
          for (int kx = 0; kx < k; kx++) {
            const int ox = ix * s - p + kx;
            if (ox >= 0 && ox < Wo) y[(co * Ho + oy) * Wo + ox] += cols[(co * k + ky) * k + kx];
          }
        }
      }
    }
  }
}
