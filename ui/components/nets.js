// Networks in the browser: safetensors weights (float16 or float32) fetched once per URL, and a
// small interpreter for the layer lists vae/services/export.py writes (linear, conv2d, conv_transpose2d,
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

// The arithmetic runs in WebAssembly SIMD (kernels.c, built into kernels.wasm and prepended as
// KERNELS_WASM, base64). Weights live in its memory from loading on (t[name].at: a byte offset);
// a run's activations are taken above them and given back when it returns.
const KERNELS = WebAssembly.instantiate(Uint8Array.from(atob(KERNELS_WASM), (c) => c.charCodeAt(0)))
  .then(({ instance }) => ({ fn: instance.exports, memory: instance.exports.memory, top: instance.exports.__heap_base.value }))
  .catch(() => { throw new Error("this browser cannot run WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4 or later can)"); });
KERNELS.catch(() => {});  // reported by each loadNet that needs them
let WASM = null;  // the instantiated KERNELS, once ready (runs are synchronous)

function alloc(floats) {  // byte offset of `floats` new float32s (16-byte aligned), growing the memory as needed
  const at = (WASM.top + 15) & ~15, short = at + 4 * floats - WASM.memory.buffer.byteLength;
  if (short > 0) WASM.memory.grow(Math.ceil(short / 65536));
  WASM.top = at + 4 * floats;
  return at;
}

function view(at, floats) {  // made anew each time: growing the memory detaches older views
  return new Float32Array(WASM.memory.buffer, at, floats);
}

// A network's weights from a safetensors file's bytes, copied into the kernels' memory.
function netFromBuffer(buffer) {
  return KERNELS.then((kernels) => {
    WASM = kernels;
    const tensors = parseSafetensors(buffer);
    for (const t of Object.values(tensors)) {
      if (!(t instanceof Float32Array)) continue;
      t.at = alloc(t.length);
      view(t.at, t.length).set(t);
    }
    return tensors;
  });
}

function fetchBytes(url) {
  return fetch(url).then((r) => {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.arrayBuffer();
  });
}

export function fetchTensors(url) {
  return fetchBytes(url).then(parseSafetensors);
}

export function loadNet(url) {
  if (!NETS.has(url)) NETS.set(url, fetchBytes(url).then(netFromBuffer));
  return NETS.get(url);
}

function outputSize(L, [, H, W]) {  // conv2d and conv_transpose2d: the output's (channels, height, width)
  const k = L.kernel, s = L.stride, p = L.padding;
  if (L.type === "conv2d") return [L.out, Math.floor((H + 2 * p - k) / s) + 1, Math.floor((W + 2 * p - k) / s) + 1];
  return [L.out, (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k];
}

function maxpool2d(L, x, [C, H, W], y) {  // y: C * floor(H / k) * floor(W / k) floats
  const k = L.kernel, Ho = Math.floor(H / k), Wo = Math.floor(W / k);
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
  return [C, Ho, Wo];
}

// The layers applied to x (a Float32Array of the given shape): the output values, flat (a copy).
export function run(layers, t, input, inputShape) {
  const fn = WASM.fn, mark = WASM.top, size = (shape) => shape.reduce((a, b) => a * b, 1);
  let shape = inputShape || [input.length], x = alloc(input.length);
  view(x, input.length).set(input);
  try {
    for (const L of layers) {
      if (L.type === "relu") {
        const v = view(x, size(shape));
        for (let i = 0; i < v.length; i++) if (v[i] < 0) v[i] = 0;
        continue;
      } else if (L.type === "unflatten" || L.type === "flatten") {
        shape = L.type === "flatten" ? [size(shape)] : L.shape;
        continue;
      }
      let y;
      if (L.type === "linear") {
        y = alloc(L.out);
        fn.linear(t[L.weight].at, t[L.bias].at, x, y, L.in, L.out);
        shape = [L.out];
      } else if (L.type === "conv2d" || L.type === "conv_transpose2d") {
        const [C, H, W] = shape, out = outputSize(L, shape);
        y = alloc(size(out));
        const scratch = alloc(L.type === "conv2d" ? C * L.kernel * L.kernel : L.out * L.kernel * L.kernel);
        fn[L.type](t[L.weight].at, t[L.bias].at, x, y, scratch, C, H, W, L.out, L.kernel, L.stride, L.padding);
        shape = out;
      } else if (L.type === "maxpool2d") {
        const [C, H, W] = shape, floats = C * Math.floor(H / L.kernel) * Math.floor(W / L.kernel);
        y = alloc(floats);
        shape = maxpool2d(L, view(x, size(shape)), shape, view(y, floats));
      } else {
        throw new Error("unknown layer " + L.type);
      }
      x = y;
    }
    return view(x, size(shape)).slice();
  } finally {
    WASM.top = mark;
  }
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
