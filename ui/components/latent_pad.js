// Latent pad: latent sliders plus a canvas, decoding in the browser on every input event.
// The decoder's weights come once per checkpoint from a safetensors file (float16 or float32);
// on release the component sends z back to Python (state "z"), so the page can follow.
// Labels are set with textContent only: nothing from data is parsed as HTML.

const NETS = new Map();  // weights URL -> Promise<{tensors}>, shared by every mount on the page
const timings = (window.__latentPad = window.__latentPad || { decodeMs: [], paintMs: [] });

function halfToFloat(h) {
  const s = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
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
      const half = new Uint16Array(bytes), out = new Float32Array(half.length);
      for (let i = 0; i < half.length; i++) out[i] = halfToFloat(half[i]);
      tensors[name] = out;
    } else throw new Error("unsupported dtype " + info.dtype);
  }
  return tensors;
}

function loadNet(url) {
  if (!NETS.has(url)) {
    NETS.set(url, fetch(url).then((r) => {
      if (!r.ok) throw new Error("weights: HTTP " + r.status);
      return r.arrayBuffer();
    }).then(parseSafetensors));
  }
  return NETS.get(url);
}

// z (Float32Array) -> 784 pixel intensities in [0, 1]
export function decode(layers, t, z) {
  let x = Float32Array.from(z), shape = [x.length];
  for (const L of layers) {
    if (L.type === "linear") {
      const W = t[L.weight], b = t[L.bias], y = new Float32Array(L.out), n = L.in;
      for (let o = 0; o < L.out; o++) {
        let s = b[o];
        const row = o * n;
        for (let i = 0; i < n; i++) s += W[row + i] * x[i];
        y[o] = s;
      }
      x = y; shape = [L.out];
    } else if (L.type === "relu") {
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0;
    } else if (L.type === "unflatten") {
      shape = L.shape;
    } else if (L.type === "conv_transpose2d") {
      const [C, H, Wd] = shape, k = L.kernel, s = L.stride, p = L.padding, Co = L.out;
      const Ho = (H - 1) * s - 2 * p + k, Wo = (Wd - 1) * s - 2 * p + k;
      const W = t[L.weight], b = t[L.bias], y = new Float32Array(Co * Ho * Wo);
      for (let co = 0; co < Co; co++) y.fill(b[co], co * Ho * Wo, (co + 1) * Ho * Wo);
      for (let ci = 0; ci < C; ci++) {
        for (let iy = 0; iy < H; iy++) {
          for (let ix = 0; ix < Wd; ix++) {
            const v = x[(ci * H + iy) * Wd + ix];
            if (v === 0) continue;  // after a ReLU most inputs are zero
            for (let co = 0; co < Co; co++) {
              const wBase = (ci * Co + co) * k * k, yBase = co * Ho * Wo;
              for (let ky = 0; ky < k; ky++) {
                const oy = iy * s - p + ky;
                if (oy < 0 || oy >= Ho) continue;
                for (let kx = 0; kx < k; kx++) {
                  const ox = ix * s - p + kx;
                  if (ox < 0 || ox >= Wo) continue;
                  y[yBase + oy * Wo + ox] += v * W[wBase + ky * k + kx];
                }
              }
            }
          }
        }
      }
      x = y; shape = [Co, Ho, Wo];
    } else {
      throw new Error("unknown layer " + L.type);
    }
  }
  for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
  return x;
}

function build(root, data) {
  root.replaceChildren();
  const wrap = document.createElement("div"); wrap.className = "pad";
  const list = document.createElement("div"); list.className = "sliders";
  const side = document.createElement("div"); side.className = "side";
  const canvas = document.createElement("canvas"); canvas.width = 28; canvas.height = 28;
  canvas.className = "digit"; canvas.setAttribute("data-testid", "latent-pad-canvas");
  const note = document.createElement("div"); note.className = "note";
  side.append(canvas, note);
  const rows = {};
  const addRow = (parent, dim) => {
    const row = document.createElement("label"); row.className = "row";
    const name = document.createElement("span"); name.className = "name"; name.textContent = dim.label;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -data.range, max: data.range, step: 0.01 });
    input.dataset.dim = dim.d;
    const value = document.createElement("span"); value.className = "value";
    row.append(name, input, value); parent.append(row);
    rows[dim.d] = { input, value };
  };
  data.dims.filter((d) => d.active).forEach((d) => addRow(list, d));
  const inactive = data.dims.filter((d) => !d.active);
  if (inactive.length) {
    const more = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `${inactive.length} inactive dimensions (the decoder ignores them)`;
    more.append(summary); inactive.forEach((d) => addRow(more, d)); list.append(more);
  }
  wrap.append(list, side); root.append(wrap);
  return { canvas, note, rows, seq: null, z: new Float32Array(data.z_dim) };
}

function paint(ui, pixels) {
  const ctx = ui.canvas.getContext("2d"), img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(pixels[i] * 255);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".latent-pad-root");
  if (!root || root.__key !== data.key) {
    root = root || document.createElement("div");
    root.className = "latent-pad-root"; root.__key = data.key;
    parentElement.append(root);
    root.__ui = build(root, data);
  }
  const ui = root.__ui;
  let net = null;
  const redraw = () => {
    if (!net) return;
    const t0 = performance.now();
    const pixels = decode(data.layers, net, ui.z);
    const t1 = performance.now();
    paint(ui, pixels);
    const t2 = performance.now();
    timings.decodeMs.push(t1 - t0); timings.paintMs.push(t2 - t0);
  };
  if (ui.seq !== data.seq) {  // a new starting point from Python
    ui.seq = data.seq;
    data.z.forEach((v, d) => { ui.z[d] = v; });
    for (const [d, r] of Object.entries(ui.rows)) { r.input.value = ui.z[d]; r.value.textContent = ui.z[d].toFixed(2); }
  }
  for (const [d, r] of Object.entries(ui.rows)) {
    r.input.oninput = () => { ui.z[d] = parseFloat(r.input.value); r.value.textContent = ui.z[d].toFixed(2); redraw(); };
    r.input.onchange = () => setStateValue("z", Array.from(ui.z));
  }
  loadNet(data.weights_url).then((tensors) => {
    net = tensors;
    ui.note.textContent = "decoded in your browser";
    window.__latentPadDecode = (z) => Array.from(decode(data.layers, tensors, Float32Array.from(z)));
    redraw();
  }).catch((e) => { ui.note.textContent = "Could not load the decoder: " + e.message; });
}
