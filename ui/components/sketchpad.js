// Sketchpad: draw a digit with a mouse, a finger or a pen, and watch the encoder think while you
// draw. On every pointer movement the picture is prepared as MNIST was (prepare.js, the same steps
// as vae/images.py), encoded in the browser (nets.js: the mlp and conv encoders), and the page
// shows the 28x28 input the model sees and its reconstruction; once a frame, also the posterior
// per active unit (mu +- sigma, or each variable's probabilities), where samples of q(z|x) land on
// the map (a cloud around the star of its mean) and a few of them decoded. When the pen lifts, the
// prepared picture goes to Python (state "drawing": seq, pixels, code), which encodes it exactly
// and finds its neighbours; architectures the browser cannot run are encoded there only.
// Mask mode paints the region of a digit that is unknown (state "mask"), for completing it.
// Every text is set with textContent.

function digitCanvas(testid) {
  const c = document.createElement("canvas");
  c.width = c.height = 28; c.className = "small-digit";
  c.setAttribute("data-testid", testid);
  return c;
}

const SIZE = 280;  // the drawing's pixels: ten per MNIST pixel

function sparseMap(m, every) {  // every `every`-th code of a map, for quick approximate placing
  const n = Math.floor(m.n / every), mu = new Float32Array(n * m.zDim), xy = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    mu.set(m.mu.subarray(i * every * m.zDim, (i * every + 1) * m.zDim), i * m.zDim);
    xy[2 * i] = m.xy[2 * i * every]; xy[2 * i + 1] = m.xy[2 * i * every + 1];
  }
  return { mu, xy, n, zDim: m.zDim };
}

function buildTools(mask) {  // pen and eraser, the brush size, undo and clear
  const tools = el("div", "tools");
  const tool = (name, label) => {
    const b = el("button", "tool", label);
    b.type = "button"; b.dataset.tool = name; b.setAttribute("aria-pressed", "false");
    return b;
  };
  const pen = tool("pen", mask ? "Mark unknown" : "Pen"), eraser = tool("eraser", mask ? "Unmark" : "Eraser");
  const size = document.createElement("input");
  Object.assign(size, { type: "range", min: 6, max: 48, step: 1, value: mask ? 30 : 22 });
  size.setAttribute("aria-label", "Brush size");
  const sizeLabel = el("label", "size", "Size ");
  sizeLabel.append(size);
  const undo = el("button", "tool", "Undo"), clear = el("button", "tool", "Clear");
  undo.type = clear.type = "button";
  tools.append(pen, eraser, sizeLabel, undo, clear);
  return { tools, pen, eraser, size, undo, clear };
}

function buildPanel(data) {  // what the model sees and makes of the drawing
  const panel = el("div", "panel");
  const seen = digitCanvas("sketchpad-input"), recon = digitCanvas("sketchpad-reconstruction");
  const pair = el("div", "pair");
  const fig = (canvasEl, caption) => {
    const f = el("figure", "fig");
    f.append(canvasEl, el("figcaption", "", caption));
    return f;
  };
  pair.append(fig(seen, "the 28x28 input"), fig(recon, "its reconstruction"));
  const note = el("div", "note");
  note.setAttribute("data-testid", "sketchpad-note");
  const bars = document.createElement("canvas");
  bars.width = 360; bars.height = 120; bars.className = "bars"; bars.setAttribute("data-testid", "sketchpad-posterior");
  const mapCanvas = document.createElement("canvas");
  mapCanvas.className = "map"; mapCanvas.setAttribute("data-testid", "sketchpad-map");
  const samples = document.createElement("canvas");
  samples.className = "samples"; samples.setAttribute("data-testid", "sketchpad-samples");
  const analysis = el("div", "analysis");
  analysis.append(el("div", "head", data.latent === "categorical"
    ? "Posterior q(z|x): each active variable's most likely category's probability"
    : "Posterior q(z|x) per active dimension: μ (dot) ± σ (bar); the prior is N(0, 1)"), bars,
  el("div", "head", "Where it lands: samples of q(z|x) on the map, ★ at its mean"), mapCanvas,
  el("div", "head", "Samples of q(z|x), decoded"), samples);
  panel.append(pair, note);
  if (data.encoder) panel.append(analysis);
  analysis.hidden = true;  // until something is drawn: empty boxes say nothing
  return { panel, seen, recon, note, bars, mapCanvas, samples, analysis };
}

function build(root, data) {
  root.replaceChildren();
  const mask = data.mode === "mask";
  const t = buildTools(mask), p = buildPanel(data);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = SIZE;
  canvas.className = "board"; canvas.setAttribute("data-testid", "sketchpad-canvas");
  const board = el("div", "board-wrap");
  board.append(canvas);
  const left = el("div", "left");
  left.append(t.tools, board);
  const wrap = el("div", "sketch" + (mask ? " masking" : ""));
  wrap.append(left, mask ? el("div", "note", `Paint over the part of the ${data.thing} the model should fill in.`) : p.panel);
  root.append(wrap);
  return { canvas, pen: t.pen, eraser: t.eraser, size: t.size, undo: t.undo, clear: t.clear, seen: p.seen,
           recon: p.recon, note: p.note, bars: p.bars, mapCanvas: p.mapCanvas, samples: p.samples,
           analysis: p.analysis, tool: "pen", strokes: [], drawing: null, seq: null, pendingExtras: 0,
           lastExtras: 0 };
}

function strokePath(ctx, s, color) {
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = s.size; ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(s.points[0][0], s.points[0][1]);
  if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.01, s.points[0][1]);
  for (const [x, y] of s.points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

// The encoder's output -> q(z|x) as {code, mu, sigma, logvar}: a Gaussian's mean and standard
// deviations, or each categorical variable's probabilities (softmax of its K logits; sigma null).
export function posteriorOf(output, zDim, latent, K) {
  if (latent === "categorical") {
    const probs = new Float32Array(output.length);
    for (let v = 0; v < output.length / K; v++) {
      let top = -Infinity, total = 0;
      for (let k = 0; k < K; k++) top = Math.max(top, output[v * K + k]);
      for (let k = 0; k < K; k++) { probs[v * K + k] = Math.exp(output[v * K + k] - top); total += probs[v * K + k]; }
      for (let k = 0; k < K; k++) probs[v * K + k] /= total;
    }
    return { code: probs, mu: probs, sigma: null };
  }
  const mu = output.slice(0, zDim), sigma = new Float32Array(zDim);
  for (let i = 0; i < zDim; i++) sigma[i] = Math.exp(0.5 * output[zDim + i]);
  return { code: mu, mu, sigma, logvar: output.slice(zDim) };
}

// One draw of q(z|x), from `rand` (uniform on (0, 1)): mu + sigma * eps (Box-Muller), or one
// category per variable, one-hot, drawn by its probabilities.
export function sampleOf(q, K, rand) {
  if (!q.sigma) {
    const z = new Float32Array(q.code.length);
    for (let v = 0; v < q.code.length / K; v++) {
      let u = rand(), k = 0;
      while (k < K - 1 && u > q.code[v * K + k]) { u -= q.code[v * K + k]; k++; }
      z[v * K + k] = 1;
    }
    return z;
  }
  const z = new Float32Array(q.mu.length);
  for (let i = 0; i < z.length; i++) {
    const e = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    z[i] = q.mu[i] + q.sigma[i] * e;
  }
  return z;
}

export function seeded(seed) {  // a small linear congruential generator: the same cloud for the same drawing
  return () => { seed = (seed * 1664525 + 1013904223) >>> 0; return (seed + 0.5) / 4294967296; };
}

function boardContext(ui) {  // read back at every movement
  return ui.canvas.getContext("2d", { willReadFrequently: true });
}

// The picture as drawn: every stroke again on black (draw mode), or the digit with the unknown
// region over it (mask mode; the region itself kept on a canvas of its own).
function background(ui, ctx) {
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, SIZE, SIZE);
  if (ui.data.mode === "mask" && ui.data.background) {
    const small = new OffscreenCanvas(28, 28);
    paintImage(small, ui.data.background);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, SIZE, SIZE);
  }
}

function repaint(ui) {
  const ctx = boardContext(ui);
  background(ui, ctx);
  if (ui.data.mode === "mask") {
    const m = ui.maskCanvas.getContext("2d");
    m.clearRect(0, 0, SIZE, SIZE);
    for (const s of ui.strokes) {
      m.globalCompositeOperation = s.tool === "pen" ? "source-over" : "destination-out";
      strokePath(m, s, "#ff3b3b");
    }
    m.globalCompositeOperation = "source-over";
    ctx.globalAlpha = 0.55; ctx.drawImage(ui.maskCanvas, 0, 0); ctx.globalAlpha = 1;
  } else {
    for (const s of ui.strokes) strokePath(ctx, s, s.tool === "pen" ? "#fff" : "#000");
  }
}

// Every movement: prepare, encode, decode, paint (the part timed against one frame).
function analyse(ui) {
  const data = ui.data;
  if (data.mode === "mask") return;
  const t0 = performance.now();
  const pixels = prepare(boardContext(ui).getImageData(0, 0, SIZE, SIZE).data, SIZE, SIZE, data.framing);
  const t1 = performance.now();
  ui.prepared = pixels;
  ui.analysis.hidden = !pixels;
  if (!pixels) {
    ui.q = null;
    ui.note.textContent = `Draw a ${data.framing.thing}: nothing on the board yet.`;
    return;
  }
  paintImage(ui.seen, pixels);
  if (ui.enc && ui.dec) {
    ui.q = posteriorOf(run(data.encoder.layers, ui.enc, pixels, [1, 28, 28]), data.z_dim, data.latent, data.categories);
    const t2 = performance.now();
    paintImage(ui.recon, decode(data.decoder.layers, ui.dec, ui.q.code));
    record("prepareMs", t1 - t0); record("encodeMs", t2 - t1); record("decodePaintMs", performance.now() - t2);
    ui.note.textContent = "encoded and decoded in your browser while you draw";
  } else if (!data.encoder) {
    ui.note.textContent = "This model's encoder runs on the server: lift the pen to see what it makes of it.";
  }
  record("drawMs", performance.now() - t0);
  extrasSoon(ui);
}

// At most every EXTRAS_MS while drawing (and once the pen lifts): the posterior's bars, the cloud
// on the map, decoded samples. They take longer than a frame, so not on every movement.
const EXTRAS_MS = 120;
function extrasSoon(ui) {
  if (ui.pendingExtras) return;
  const wait = Math.max(0, ui.lastExtras + EXTRAS_MS - performance.now());
  ui.pendingExtras = setTimeout(() => requestAnimationFrame(() => {
    ui.pendingExtras = 0; ui.lastExtras = performance.now(); extras(ui);
  }), wait);
}

function drawBars(ui, q, style) {  // the posterior per active unit
  const units = ui.data.dims.filter((d) => d.active).map((d) => d.d);
  const b = ui.bars.getContext("2d"), W = ui.bars.width, H = ui.bars.height;
  b.clearRect(0, 0, W, H);
  const color = style.getPropertyValue("--st-primary-color").trim() || "#f58518";
  // Axes: values on the left, each unit's number below (z3, or v3 for a categorical variable).
  const left = 26, bottom = 14, top = 6, plotW = W - left, plotH = H - bottom - top;
  const n = units.length, cw = plotW / Math.max(1, n);
  b.font = "10px sans-serif"; b.fillStyle = style.color; b.textBaseline = "middle";
  const axis = (value, y) => {
    b.textAlign = "right"; b.fillText(value, left - 4, y);
    b.globalAlpha = 0.25; b.fillRect(left, y, plotW, 1); b.globalAlpha = 1;
  };
  const every = Math.ceil(22 / cw);  // a label every so many units, so that they do not collide
  b.textAlign = "center"; b.textBaseline = "bottom";
  units.forEach((d, i) => { if (i % every === 0) b.fillText((q.sigma ? "z" : "v") + d, left + i * cw + cw / 2, H); });
  b.textBaseline = "middle";
  b.fillStyle = color; b.strokeStyle = color;
  if (q.sigma) {  // mu +- sigma, the axis from -4 to 4
    const y = (v) => top + plotH / 2 - (Math.max(-4, Math.min(4, v)) / 4) * (plotH / 2);
    b.fillStyle = style.color;
    for (const v of [4, 0, -4]) axis(v === 0 ? "0" : (v > 0 ? "+" : "−") + Math.abs(v), y(v));
    b.fillStyle = color;
    units.forEach((d, i) => {
      const x = left + i * cw + cw / 2;
      b.fillRect(x - 1, y(q.mu[d] + q.sigma[d]), 2, y(q.mu[d] - q.sigma[d]) - y(q.mu[d] + q.sigma[d]));
      b.beginPath(); b.arc(x, y(q.mu[d]), Math.min(4, cw / 3), 0, 2 * Math.PI); b.fill();
    });
  } else {  // each active variable's most likely category's probability, as a bar
    const K = ui.data.categories, y = (p) => top + plotH - p * plotH;
    b.fillStyle = style.color;
    for (const p of [1, 0.5, 0]) axis(String(p), y(p));
    b.fillStyle = color;
    units.forEach((d, i) => {
      let best = 0;
      for (let k = 1; k < K; k++) if (q.code[d * K + k] > q.code[d * K + best]) best = k;
      const p = q.code[d * K + best];
      b.fillRect(left + i * cw + 1, y(p), cw - 2, p * plotH);
    });
  }
}

function drawCloud(ui, q, rand) {  // samples of q(z|x) on the map, a star at its mean
  const m = ui.map, f = ui.data.map, mc = ui.mapCanvas.getContext("2d");
  mc.clearRect(0, 0, f.size, f.size);  // the map's picture is transparent around its points
  mc.drawImage(m.image, 0, 0);
  const toPx = (p) => [f.pad + (p.x - f.lo[0]) / f.span * (f.size - 2 * f.pad),
    f.size - (f.pad + (p.y - f.lo[1]) / f.span * (f.size - 2 * f.pad))];
  mc.fillStyle = "rgba(0, 0, 0, 0.55)"; mc.strokeStyle = "#fff"; mc.lineWidth = 1;
  ui.sparse = ui.sparse || sparseMap(m, 4);  // the cloud's samples placed among every 4th test code
  for (let s = 0; s < 16; s++) {
    const [px, py] = toPx(place(ui.sparse, sampleOf(q, ui.data.categories, rand), f.neighbours));
    mc.beginPath(); mc.arc(px, py, 3, 0, 2 * Math.PI); mc.fill(); mc.stroke();
  }
  const [sx, sy] = toPx(place(m, q.code, f.neighbours));
  mc.font = "bold 18px sans-serif"; mc.textAlign = "center"; mc.textBaseline = "middle";
  mc.lineWidth = 3; mc.strokeText("★", sx, sy); mc.fillStyle = "#000"; mc.fillText("★", sx, sy);
}

function drawSamples(ui, q, rand) {  // three samples of q(z|x), decoded
  const count = 3, gap = 2, sw = count * 28 + (count - 1) * gap;
  ui.samples.width = sw; ui.samples.height = 28;
  const sc = ui.samples.getContext("2d");
  sc.fillStyle = "#000"; sc.fillRect(0, 0, sw, 28);
  for (let s = 0; s < count; s++) {
    paintImage(ui.samples, decode(ui.data.decoder.layers, ui.dec, sampleOf(q, ui.data.categories, rand)), { x0: s * (28 + gap) });
  }
}

function extras(ui) {
  if (!ui.q) return;
  const t0 = performance.now();
  drawBars(ui, ui.q, getComputedStyle(ui.root));
  const rand = seeded(12345);
  if (ui.map) drawCloud(ui, ui.q, rand);
  drawSamples(ui, ui.q, rand);
  record("extrasMs", performance.now() - t0);
}

function maskPixels(ui) {  // the unknown region, as MNIST pixels: a quarter of a pixel painted makes it unknown
  const m = ui.maskCanvas.getContext("2d").getImageData(0, 0, SIZE, SIZE).data, out = [];
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      let painted = 0;
      for (let dy = 0; dy < 10; dy++) {
        for (let dx = 0; dx < 10; dx++) painted += m[4 * ((y * 10 + dy) * SIZE + x * 10 + dx) + 3] > 0;
      }
      out.push(painted >= 25 ? 1 : 0);
    }
  }
  return out;
}

function release(ui) {  // what Python hears when the pen lifts
  const data = ui.data;
  if (data.mode === "mask") {
    ui.setStateValue("mask", { seq: data.seq, mask: maskPixels(ui) });
    return;
  }
  const pixels = ui.prepared;
  ui.setStateValue("drawing", { seq: data.seq,
    pixels: pixels ? Array.from(pixels, (v) => Math.round(v * 10000) / 10000) : null,
    code: ui.q ? Array.from(ui.q.code) : null });
}

function bindBoard(ui) {  // the pen on the board, the tools, undo and clear
  const showTool = () => {
    for (const b of [ui.pen, ui.eraser]) b.setAttribute("aria-pressed", String(b.dataset.tool === ui.tool));
  };
  showTool();
  ui.pen.onclick = () => { ui.tool = "pen"; showTool(); };
  ui.eraser.onclick = () => { ui.tool = "eraser"; showTool(); };
  const point = (e) => {
    const r = ui.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
  };
  ui.canvas.onpointerdown = (e) => {
    e.preventDefault();
    ui.canvas.setPointerCapture(e.pointerId);
    ui.drawing = { tool: ui.tool, size: Number(ui.size.value), points: [point(e)] };
    ui.strokes.push(ui.drawing);
    repaint(ui); analyse(ui);
  };
  ui.canvas.onpointermove = (e) => {
    if (!ui.drawing) return;
    ui.drawing.points.push(point(e));
    const s = ui.drawing, n = s.points.length;
    if (ui.data.mode === "mask") repaint(ui);
    else strokePath(boardContext(ui), { ...s, points: s.points.slice(n - 2) }, s.tool === "pen" ? "#fff" : "#000");
    analyse(ui);
  };
  ui.canvas.onpointerup = ui.canvas.onpointercancel = () => {
    if (!ui.drawing) return;
    ui.drawing = null;
    extrasSoon(ui);
    release(ui);
  };
  ui.undo.onclick = () => { ui.strokes.pop(); repaint(ui); analyse(ui); release(ui); };
  ui.clear.onclick = () => { ui.strokes = []; repaint(ui); analyse(ui); release(ui); };
}

function loadOnce(ui, data) {  // the encoder and decoder, and the map, each fetched once per mount
  const mask = data.mode === "mask";
  if (!mask && data.encoder && !ui.loading) {
    ui.loading = true;
    Promise.all([loadNet(data.encoder.url), loadNet(data.decoder.url)]).then(([enc, dec]) => {
      ui.enc = enc; ui.dec = dec;
      expose("encode", (x) => Array.from(run(data.encoder.layers, enc, Float32Array.from(x), [1, 28, 28])));
      analyse(ui);
    }).catch((err) => { ui.note.textContent = "Could not load the encoder: " + err.message; });
  }
  if (!mask && data.map && !ui.loadingMap) {
    ui.loadingMap = true;
    loadMap(data.map.url).then((m) => {
      ui.map = m; ui.mapCanvas.width = ui.mapCanvas.height = data.map.size; extrasSoon(ui);
    });
  }
}

export default function (component) {
  const { parentElement, setStateValue } = component, data = dataOf(component);
  let root = parentElement.querySelector(".sketchpad-root");
  if (!root || root.__key !== data.key) {
    root = root || el("div", "sketchpad-root");
    root.__key = data.key;
    parentElement.append(root);
    root.__ui = build(root, data);
  }
  const ui = root.__ui;
  Object.assign(ui, { data, root, setStateValue });
  ui.maskCanvas = ui.maskCanvas || new OffscreenCanvas(SIZE, SIZE);
  bindBoard(ui);
  if (ui.seq !== data.seq) {  // a fresh board (or a new digit to complete)
    ui.seq = data.seq;
    ui.strokes = [];
    repaint(ui); analyse(ui);
  }
  loadOnce(ui, data);
  expose("prepare", (rgba, w, h) => {
    const p = prepare(Uint8ClampedArray.from(rgba), w, h, data.framing);
    return p ? Array.from(p) : null;
  });
  expose("sketchpadPrepared", () => (ui.prepared ? Array.from(ui.prepared) : null));
}
