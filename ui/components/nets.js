// Networks in the browser: safetensors weights (float16 or float32) fetched once per URL, and a
// small interpreter for the layer lists vae/export.py writes (linear, conv2d, conv_transpose2d,
// relu, maxpool2d, flatten, unflatten). Prepended to the components that run networks.

const NETS = new Map();  // weights URL -> Promise<{name: tensor}>, shared by every mount on the page

function halfToFloat(h) {
  const s = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

let HALF = null;  // all 65,536 float16 values, built on first use
function halfTable() {
  if (!HALF) {
    HALF = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF[h] = halfToFloat(h);
  }
  return HALF;
}

function parseSafetensors(buffer) {
  const view = new DataView(buffer);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLen)));
  const base = 8 + headerLen, tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [start, end] = info.data_offsets;
    const bytes = buffer.slice(base + start, base + end);
    if (info.dtype === "F32") tensors[name] = new Float32Array(bytes);
    else if (info.dtype === "F16") {
      const half = new Uint16Array(bytes), out = new Float32Array(half.length), table = halfTable();
      for (let i = 0; i < half.length; i++) out[i] = table[half[i]];
      tensors[name] = out;
    } else if (info.dtype === "I32") tensors[name] = new Int32Array(bytes);
    else if (info.dtype === "U8") tensors[name] = new Uint8Array(bytes);
    else throw new Error("unsupported dtype " + info.dtype);
    tensors[name].shape = info.shape;
  }
  return tensors;
}

function fetchTensors(url) {
  return fetch(url).then((r) => {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.arrayBuffer();
  }).then(parseSafetensors);
}

function loadNet(url) {
  if (!NETS.has(url)) NETS.set(url, fetchTensors(url));
  return NETS.get(url);
}

function conv2d(L, t, x, [C, H, W]) {  // weight (out, in, k, k), as (out, in * k * k) rows
  const k = L.kernel, s = L.stride, p = L.padding, Co = L.out, size = C * k * k;
  const Ho = Math.floor((H + 2 * p - k) / s) + 1, Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const w = t[L.weight], b = t[L.bias], y = new Float32Array(Co * Ho * Wo), patch = new Float32Array(size);
  for (let oy = 0; oy < Ho; oy++) {
    for (let ox = 0; ox < Wo; ox++) {
      // The input under the kernel at (oy, ox), zero outside the picture: one dot product per output channel.
      let i = 0;
      for (let ci = 0; ci < C; ci++) {
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s - p + ky, row = (ci * H + iy) * W;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s - p + kx;
            patch[i++] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[row + ix] : 0;
          }
        }
      }
      const at = oy * Wo + ox;
      for (let co = 0; co < Co; co++) y[co * Ho * Wo + at] = b[co] + dot(w, co * size, patch, size);
    }
  }
  return [y, [Co, Ho, Wo]];
}

function convTranspose2d(L, t, x, [C, H, W]) {  // weight (in, out, k, k)
  const k = L.kernel, s = L.stride, p = L.padding, Co = L.out;
  const Ho = (H - 1) * s - 2 * p + k, Wo = (W - 1) * s - 2 * p + k;
  const w = t[L.weight], b = t[L.bias], y = new Float32Array(Co * Ho * Wo);
  for (let co = 0; co < Co; co++) y.fill(b[co], co * Ho * Wo, (co + 1) * Ho * Wo);
  for (let ci = 0; ci < C; ci++) {
    for (let iy = 0; iy < H; iy++) {
      for (let ix = 0; ix < W; ix++) {
        const v = x[(ci * H + iy) * W + ix];
        if (v === 0) continue;  // after a ReLU most inputs are zero
        for (let co = 0; co < Co; co++) {
          const wBase = (ci * Co + co) * k * k, yBase = co * Ho * Wo;
          for (let ky = 0; ky < k; ky++) {
            const oy = iy * s - p + ky;
            if (oy < 0 || oy >= Ho) continue;
            for (let kx = 0; kx < k; kx++) {
              const ox = ix * s - p + kx;
              if (ox < 0 || ox >= Wo) continue;
              y[yBase + oy * Wo + ox] += v * w[wBase + ky * k + kx];
            }
          }
        }
      }
    }
  }
  return [y, [Co, Ho, Wo]];
}

function maxpool2d(L, x, [C, H, W]) {
  const k = L.kernel, Ho = Math.floor(H / k), Wo = Math.floor(W / k), y = new Float32Array(C * Ho * Wo);
  for (let c = 0; c < C; c++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        let m = -Infinity;
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) m = Math.max(m, x[(c * H + oy * k + ky) * W + ox * k + kx]);
        }
        y[(c * Ho + oy) * Wo + ox] = m;
      }
    }
  }
  return [y, [C, Ho, Wo]];
}

// sum_j w[base + j] * x[j] for j < n, four at a time (V8 runs this about twice as fast as one at a time).
function dot(w, base, x, n) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += w[base + j] * x[j]; s1 += w[base + j + 1] * x[j + 1];
    s2 += w[base + j + 2] * x[j + 2]; s3 += w[base + j + 3] * x[j + 3];
  }
  for (; j < n; j++) s0 += w[base + j] * x[j];
  return s0 + s1 + s2 + s3;
}

// y = W x + b, W (out, in). A wide input (after a ReLU: many zeros) goes through the weights'
// columns instead, skipping its zeros: the column-major copy is made once per weights tensor.
function linear(L, t, x) {
  const b = t[L.bias], y = Float32Array.from(b), n = L.in, m = L.out;
  if (n < 256) {
    const W = t[L.weight];
    for (let o = 0; o < m; o++) y[o] += dot(W, o * n, x, n);
    return y;
  }
  const W = t[L.weight];
  if (!W.columns) {
    W.columns = new Float32Array(n * m);
    for (let o = 0; o < m; o++) for (let i = 0; i < n; i++) W.columns[i * m + o] = W[o * n + i];
  }
  const C = W.columns;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v === 0) continue;
    for (let o = 0, base = i * m; o < m; o++) y[o] += v * C[base + o];
  }
  return y;
}

// The layers applied to x (a Float32Array of the given shape): the output values, flat.
export function run(layers, t, input, inputShape) {
  let x = Float32Array.from(input), shape = inputShape || [x.length];
  for (const L of layers) {
    if (L.type === "linear") {
      x = linear(L, t, x); shape = [L.out];
    } else if (L.type === "relu") {
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0;
    } else if (L.type === "unflatten") {
      shape = L.shape;
    } else if (L.type === "flatten") {
      shape = [x.length];
    } else if (L.type === "conv2d") {
      [x, shape] = conv2d(L, t, x, shape);
    } else if (L.type === "conv_transpose2d") {
      [x, shape] = convTranspose2d(L, t, x, shape);
    } else if (L.type === "maxpool2d") {
      [x, shape] = maxpool2d(L, x, shape);
    } else {
      throw new Error("unknown layer " + L.type);
    }
  }
  return x;
}

// z (Float32Array) -> 784 pixel intensities in [0, 1]
export function decode(layers, t, z) {
  const x = run(layers, t, z);
  for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
  return x;
}

// 784 pixel intensities in [0, 1] -> label probabilities
export function classify(layers, t, pixels) {
  const x = run(layers, t, pixels, [1, 28, 28]);
  let top = -Infinity, total = 0;
  for (const v of x) top = Math.max(top, v);
  for (let i = 0; i < x.length; i++) { x[i] = Math.exp(x[i] - top); total += x[i]; }
  for (let i = 0; i < x.length; i++) x[i] /= total;
  return x;
}
