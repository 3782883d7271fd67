// Latent pad: latent sliders plus a canvas, decoding in the browser on every input event (and the
// digit classifier's label of the decoded digit), and everything else on the page that depends on
// z, so that no change of z waits for the server. The networks run with ui/components/nets.js:
//   - the star on the overview map and the caption (|z|, nearest test digit): every input event
//   - the traversal strip: on release, and when its dimension, range or steps change
// The decoder's weights come once per checkpoint from a safetensors file (float16 or float32); the
// test set's codes, map positions and labels and the overview image from a second one. On release
// the component still sends z back to Python (state "z", with the starting point's seq), so the
// session keeps it.
// Every text is set with textContent: nothing from data is parsed as HTML.

function rangeControl(label, min, max, step, value, help) {
  const box = el("label", "control");
  const head = el("span", "control-head");
  const name = el("span", "control-label", label);
  if (help) name.title = help;
  const shown = el("span", "control-value");
  const input = document.createElement("input");
  Object.assign(input, { type: "range", min, max, step });
  input.value = value;
  head.append(name, shown); box.append(head, input);
  return { box, input, shown };
}

function addRow(parent, rows, data, dim) {  // a slider, or for a categorical variable a picker
  const categorical = data.latent === "categorical";
  const row = el(categorical ? "div" : "label", "row");
  const name = el("span", "name", dim.label);
  if (categorical) {  // one button per category
    const choices = el("div", "choices");
    choices.setAttribute("role", "radiogroup"); choices.setAttribute("aria-label", dim.label);
    choices.style.gridTemplateColumns = `repeat(${data.categories}, 1fr)`;
    const buttons = [];
    for (let k = 0; k < data.categories; k++) {
      const b = el("button", "choice", String(k));
      b.type = "button"; b.setAttribute("role", "radio"); b.dataset.category = k;
      buttons.push(b); choices.append(b);
    }
    row.append(name, choices); parent.append(row);
    rows[dim.d] = { buttons };
  } else {
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -data.range, max: data.range, step: 0.01 });
    input.dataset.dim = dim.d;
    const value = el("span", "value");
    row.append(name, input, value); parent.append(row);
    rows[dim.d] = { input, value };
  }
}

function buildPad(data) {  // the sliders (inactive ones folded away) beside the digit
  const wrap = el("div", "pad"), list = el("div", "sliders"), side = el("div", "side");
  const canvas = document.createElement("canvas"); canvas.width = canvas.height = data.image.side;
  canvas.className = "digit"; canvas.setAttribute("data-testid", "latent-pad-canvas");
  const label = el("div", "label");
  label.setAttribute("data-testid", "latent-pad-label");
  const note = el("div", "note");
  side.append(canvas, label, note);
  const rows = {};
  data.dims.filter((d) => d.active).forEach((d) => addRow(list, rows, data, d));
  const inactive = data.dims.filter((d) => !d.active);
  if (inactive.length) {
    const more = document.createElement("details");
    const what = data.latent === "categorical" ? "variables" : "dimensions";
    more.append(el("summary", "", `${inactive.length} inactive ${what} (the decoder ignores them)`));
    inactive.forEach((d) => addRow(more, rows, data, d)); list.append(more);
  }
  wrap.append(list, side);
  return { wrap, canvas, label, note, rows };
}

function buildMap(data) {  // the overview map with the star
  const col = el("div", "col");
  const mapCanvas = document.createElement("canvas");
  mapCanvas.width = mapCanvas.height = data.map.size;
  mapCanvas.className = "map"; mapCanvas.setAttribute("data-testid", "latent-pad-map");
  col.append(el("h3", "", "Where z lies on the map"), mapCanvas,
    el("div", "image-caption", `★ where z lands among the test ${data.thing}s (colors as on the Latent map)`));
  return { col, mapCanvas };
}

function buildTraversal(data) {  // the strip, its controls, the caption and the downloads
  const categorical = data.latent === "categorical";
  const col = el("div", "col"), controls = el("div", "controls");
  const dimBox = el("label", "control"), dimHead = el("span", "control-head");
  dimHead.append(el("span", "control-label", "Dimension"));
  const select = document.createElement("select");
  for (const d of data.dims) {
    const option = el("option", "", `${categorical ? "v" : "z"}${d.d} (KL ${d.kl.toFixed(2)})`);
    option.value = d.d; select.append(option);
  }
  dimBox.append(dimHead, select);
  const span = rangeControl("Range", 0.5, 4, 0.5, data.traversal.span, "Sweep from -range to +range");
  const steps = rangeControl("Steps", 3, 15, 1, data.traversal.steps);
  controls.append(dimBox);
  if (!categorical) controls.append(span.box, steps.box);  // a categorical variable cycles its K categories
  const strip = document.createElement("canvas");
  strip.className = "strip"; strip.setAttribute("data-testid", "latent-pad-traversal");
  const stripCaption = el("div", "image-caption");
  const caption = el("div", "caption"); caption.setAttribute("data-testid", "latent-pad-caption");
  const downloads = el("div", "downloads");
  const zLink = el("a", "download", "Download z (JSON)"), stripLink = el("a", "download", "Download traversal (PNG)");
  zLink.setAttribute("data-testid", "latent-pad-download-z");
  stripLink.setAttribute("data-testid", "latent-pad-download-traversal");
  downloads.append(zLink, stripLink);
  col.append(el("h3", "", "Traversal"), controls, strip, stripCaption, caption, downloads);
  return { col, select, span, steps, strip, stripCaption, caption, zLink, stripLink };
}

function buildStyles(data) {  // a conditional model's style grid: this z decoded as every class
  const row = el("div", "styles"), strip = document.createElement("canvas");
  strip.className = "strip"; strip.setAttribute("data-testid", "latent-pad-styles");
  row.append(el("h3", "", "One z, every class"), strip, el("div", "image-caption",
    `z decoded with each class label (${data.styles.class_names.join(", ")}): the label carries the class, ` +
    "z the style"));
  return { row, strip };
}

function build(root, data) {
  root.replaceChildren();
  const pad = buildPad(data), map = buildMap(data), trav = buildTraversal(data);
  const styles = data.styles ? buildStyles(data) : null;
  const below = el("div", "below");  // below the pad, as two columns
  below.append(map.col, trav.col);
  root.append(pad.wrap, ...(styles ? [styles.row] : []), below);
  return { canvas: pad.canvas, label: pad.label, note: pad.note, rows: pad.rows, mapCanvas: map.mapCanvas,
           styleStrip: styles && styles.strip,
           select: trav.select, span: trav.span, steps: trav.steps, strip: trav.strip,
           stripCaption: trav.stripCaption, caption: trav.caption, zLink: trav.zLink, stripLink: trav.stripLink,
           seq: null, z: new Float32Array(data.z_dim), net: null, map: null, frame: null, pending: 0 };
}

function drawStar(ctx, cx, cy, radius) {  // as ui.charts.with_star
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 === 0 ? radius : radius * 0.45, a = i * Math.PI / 5;
    const x = cx + r * Math.sin(a), y = cy - r * Math.cos(a);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  }
  ctx.closePath();
  ctx.fillStyle = "black"; ctx.fill();
  ctx.lineWidth = 2; ctx.lineJoin = "miter"; ctx.strokeStyle = "white"; ctx.stroke();
}

function redraw(ui) {  // the digit, and what the classifier makes of it
  if (!ui.net) return;
  const t0 = performance.now();
  const pixels = decode(ui.data.layers, ui.net, ui.z);
  const t1 = performance.now();
  paintImage(ui.canvas, pixels, { shape: ui.data.image });
  const t2 = performance.now();
  if (ui.clf) {
    const probs = classify(ui.data.classifier.layers, ui.clf, pixels);
    let best = 0;
    for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
    ui.label.textContent = `looks like ${ui.data.classifier.class_names[best]} (${Math.round(100 * probs[best])}%)`;
    ui.label.dataset.probabilities = Array.from(probs, (p) => p.toFixed(4)).join(",");
  }
  const t3 = performance.now();
  record("decodeMs", t1 - t0); record("paintMs", t2 - t0); record("classifyMs", t3 - t2); record("eventMs", t3 - t0);
  if (ui.styleNet) {  // a conditional model's style grid: timed apart, so the pad's figures stay the pad's
    const { layers, class_names: names } = ui.data.styles, input = new Float32Array(ui.z.length + names.length);
    input.set(ui.z);
    paintStrip(ui.styleStrip, names.map((_, k) => {
      input.fill(0, ui.z.length); input[ui.z.length + k] = 1;
      return decode(layers, ui.styleNet, input);
    }), ui.data.traversal, ui.data.image);
    record("stylesMs", performance.now() - t3);
  }
}

// Images side by side, `gap` black pixels apart, each as the decoders write them (C, H, W).
function paintStrip(canvas, images, { gap, scale }, { side, channels }) {
  const W = images.length * side + (images.length - 1) * gap, small = new ImageData(W, side), n = side * side;
  images.forEach((pixels, s) => {
    const x0 = s * (side + gap);
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const i = r * side + c, o = 4 * (r * W + x0 + c);
        for (let k = 0; k < 3; k++) small.data[o + k] = Math.round(pixels[channels === 1 ? i : k * n + i] * 255);
      }
    }
  });
  for (let o = 3; o < small.data.length; o += 4) small.data[o] = 255;  // the gaps stay black
  const off = new OffscreenCanvas(W, side);
  off.getContext("2d").putImageData(small, 0, 0);
  canvas.width = W * scale; canvas.height = side * scale;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, W * scale, side * scale);
}

function follow(ui) {  // the star on the map and the caption
  if (!ui.map) return;
  const t0 = performance.now();
  const m = ui.map, f = ui.data.map, where = place(m, ui.z, f.neighbours);
  const ctx = ui.mapCanvas.getContext("2d");
  ctx.clearRect(0, 0, f.size, f.size);  // the map's picture is transparent around its points
  ctx.drawImage(m.image, 0, 0);
  const px = f.pad + (where.x - f.lo[0]) / f.span * (f.size - 2 * f.pad);
  const py = f.pad + (where.y - f.lo[1]) / f.span * (f.size - 2 * f.pad);
  drawStar(ctx, px, f.size - py, 9);  // map y grows upwards
  let norm = 0;
  for (const v of ui.z) norm += v * v;
  const label = ui.data.class_names[m.labels[where.nearest]];
  ui.caption.textContent = ui.data.latent === "categorical"
    ? `Nearest test ${ui.data.thing} (its posterior probabilities nearest this code): #${where.nearest} (${label}).`
    : `|z| = ${Math.sqrt(norm).toFixed(2)}; a typical prior sample has ` +
      `|z| ≈ ${Math.sqrt(ui.z.length).toFixed(1)}. Nearest test ${ui.data.thing}: #${where.nearest} (${label}).`;
  record("placeMs", performance.now() - t0);
}

function traverse(ui) {  // the strip: one dimension swept, the others at z
  if (!ui.net) return;
  const t0 = performance.now();
  const dim = parseInt(ui.select.value, 10), span = parseFloat(ui.span.input.value);
  const K = ui.data.categories, categorical = ui.data.latent === "categorical";
  const steps = categorical ? K : parseInt(ui.steps.input.value, 10), digits = [];
  const z = Float32Array.from(ui.z);
  for (let s = 0; s < steps; s++) {
    if (categorical) {  // variable dim in category s, the others as picked
      z.fill(0, dim * K, (dim + 1) * K); z[dim * K + s] = 1;
    } else {
      z[dim] = steps === 1 ? -span : -span + (2 * span * s) / (steps - 1);  // torch.linspace
    }
    digits.push(decode(ui.data.layers, ui.net, z));
  }
  paintStrip(ui.strip, digits, ui.data.traversal, ui.data.image);
  ui.stripCaption.textContent = categorical ? `v${dim} in each of its ${K} categories, the others as picked`
    : `z${dim} from ${-span} to ${span}, the others at z`;
  // What the strip shows, for tests and benchmarks: the z it was drawn around.
  ui.strip.dataset.z = Array.from(ui.z, (v) => v.toFixed(2)).join(",");
  record("traversalMs", performance.now() - t0);
}

function traverseSoon(ui) {  // traversal controls: at most once per frame while dragged
  if (!ui.pending) ui.pending = requestAnimationFrame(() => { ui.pending = 0; traverse(ui); });
}

function showPick(ui, d) {  // a categorical variable's buttons, from z
  const K = ui.data.categories;
  ui.rows[d].buttons.forEach((b, k) => {
    const on = ui.z[d * K + k] > 0.5;
    b.classList.toggle("on", on); b.setAttribute("aria-checked", on ? "true" : "false"); b.tabIndex = on ? 0 : -1;
  });
}

function startFrom(ui, z) {  // a new starting point from Python
  z.forEach((v, d) => { ui.z[d] = v; });
  for (const [d, r] of Object.entries(ui.rows)) {
    if (r.buttons) showPick(ui, Number(d));
    else { r.input.value = ui.z[d]; r.value.textContent = ui.z[d].toFixed(2); }
  }
  redraw(ui); follow(ui); traverse(ui);
}

function release(ui) {  // the strip follows here first, then the server hears of z
  traverse(ui);
  ui.setStateValue("z", { seq: ui.seq, z: Array.from(ui.z) });
}

function pick(ui, d, k) {  // variable d takes category k
  const K = ui.data.categories;
  ui.z.fill(0, d * K, (d + 1) * K); ui.z[d * K + k] = 1;
  showPick(ui, d); redraw(ui); follow(ui); release(ui);
}

function bindPicker(ui, d, r) {
  const K = ui.data.categories;
  r.buttons.forEach((b, k) => {
    b.onclick = () => pick(ui, d, k);
    b.onkeydown = (e) => {  // arrows move the pick, as in any radio group
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
      if (step === undefined) return;
      e.preventDefault();
      const next = (k + step + K) % K;
      pick(ui, d, next); r.buttons[next].focus();
    };
  });
}

function bindSlider(ui, d, r) {
  r.input.oninput = () => {
    ui.z[d] = parseFloat(r.input.value); r.value.textContent = ui.z[d].toFixed(2);
    redraw(ui); follow(ui);
  };
  r.input.onchange = () => release(ui);
  // Keys step by 0.1 (the drag's 0.01 steps take 30 presses to move 0.3), PageUp/PageDown by 1; the
  // release follows the last key.
  r.input.onkeydown = (e) => {
    const delta = { ArrowRight: 0.1, ArrowUp: 0.1, ArrowLeft: -0.1, ArrowDown: -0.1, PageUp: 1, PageDown: -1 }[e.key];
    if (delta === undefined) return;
    e.preventDefault();
    const limit = ui.data.range, v = Math.round((parseFloat(r.input.value) + delta) * 100) / 100;
    r.input.value = Math.max(-limit, Math.min(limit, v));
    r.input.oninput();
    clearTimeout(ui.keyTimer);
    ui.keyTimer = setTimeout(() => release(ui), 250);
  };
}

function bindTraversal(ui) {  // its controls and the two downloads
  ui.zLink.onclick = () => {  // the z on the pad now, as the session will keep it
    const z = Array.from(ui.z, (v) => Math.round(v * 1000) / 1000);
    const json = JSON.stringify({ checkpoint: ui.data.checkpoint, z });
    ui.zLink.href = URL.createObjectURL(new Blob([json + "\n"], { type: "application/json" }));
    ui.zLink.download = "z.json";
  };
  ui.stripLink.onclick = () => {
    ui.stripLink.href = ui.strip.toDataURL("image/png");
    ui.stripLink.download = `traversal-z${ui.select.value}.png`;
  };
  ui.select.onchange = () => traverse(ui);
  for (const c of [ui.span, ui.steps]) {
    const show = () => { c.shown.textContent = c === ui.span ? parseFloat(c.input.value).toFixed(2) : c.input.value; };
    show();
    c.input.oninput = () => { show(); traverseSoon(ui); };
  }
}

function loadOnce(ui, data) {  // the decoder, the classifier and the map, each fetched once per mount
  if (!ui.loadingNet) {
    ui.loadingNet = true;
    loadNet(data.weights_url).then((tensors) => {
      ui.net = tensors;
      ui.note.textContent = "decoded in your browser";
      expose("decode", (z) => Array.from(decode(ui.data.layers, tensors, Float32Array.from(z))));
      redraw(ui); traverse(ui);
    }).catch((e) => { ui.note.textContent = "Could not load the decoder: " + e.message; });
  }
  if (!ui.loadingStyles && data.styles) {
    ui.loadingStyles = true;
    loadNet(data.styles.url).then((tensors) => { ui.styleNet = tensors; redraw(ui); })
      .catch((e) => { ui.note.textContent = "Could not load the conditional decoder: " + e.message; });
  }
  if (!ui.loadingClassifier && data.classifier) {
    ui.loadingClassifier = true;
    loadNet(data.classifier.url).then((tensors) => {
      ui.clf = tensors;
      expose("classify", (x) => Array.from(classify(ui.data.classifier.layers, tensors, Float32Array.from(x))));
      redraw(ui);
    }).catch((e) => { ui.label.textContent = "Could not load the classifier: " + e.message; });
  }
  if (!ui.loadingMap) {
    ui.loadingMap = true;
    loadMap(data.map.url).then((m) => {
      ui.map = m;
      expose("place", (z) => place(m, Float32Array.from(z), ui.data.map.neighbours));
      follow(ui);
    }).catch((e) => { ui.caption.textContent = "Could not load the map: " + e.message; });
  }
}

export default function (component) {
  const { parentElement, setStateValue } = component, data = dataOf(component);
  let root = parentElement.querySelector(".latent-pad-root");
  if (!root || root.__key !== data.key) {
    root = root || document.createElement("div");
    root.className = "latent-pad-root"; root.__key = data.key;
    parentElement.append(root);
    root.__ui = build(root, data);
  }
  const ui = root.__ui;
  ui.data = data;
  ui.setStateValue = setStateValue;
  if (ui.seq !== data.seq) {
    ui.seq = data.seq;
    startFrom(ui, data.z);
  }
  for (const [d, r] of Object.entries(ui.rows)) {
    if (r.buttons) bindPicker(ui, Number(d), r);
    else bindSlider(ui, Number(d), r);
  }
  bindTraversal(ui);
  loadOnce(ui, data);
}
