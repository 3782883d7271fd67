// The latent map's view and drawing (ui/components/latent_map.js is the rest: its state, what is
// under the pointer, gestures and Streamlit): map coordinates to the stage's pixels, the points,
// contours, cluster labels and picks on the canvas, the legend or colour bar, the decoded lattice and
// the picture a user saves. Joined before latent_map.js into one script (ui/map_chart.py).

const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                 [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]];
const SHADES = 48;  // a figure's colours, in this many steps (one path each)
const RINGS = 20;  // more picks than this (a box, a lasso): only the first two get rings, the rest stand out unfaded
const SLOW = 12;  // ms: a map whose points take longer to draw is moved as a picture during a pan or pinch

export function typed(base64, Type) {  // a little-endian array sent as base64 text
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

export function viridis(t) {  // t in [0, 1] -> "rgb(...)"
  const u = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k] - v))).join(",")})`;
}

export function inkColor() {  // the theme's text colour, [r, g, b]
  const app = document.querySelector("[data-testid=stApp]") || document.body;
  return (getComputedStyle(app).color.match(/\d+/g) || [128, 128, 128]).slice(0, 3).map(Number);
}

// ---- the view: map coordinates <-> pixels of the stage, one scale for both axes ------------------

export function size(ui) {
  return { w: ui.stage.clientWidth, h: ui.stage.clientHeight };
}

export function wholeView(ui) {  // every shown point in view
  const { xy, order } = ui.points, { w, h } = size(ui);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const i of order) {
    x0 = Math.min(x0, xy[2 * i]); x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]); y1 = Math.max(y1, xy[2 * i + 1]);
  }
  if (!(x1 >= x0)) { x0 = y0 = -1; x1 = y1 = 1; }
  const pad = 0.04 * Math.max(x1 - x0, y1 - y0, 1e-9);
  const k = Math.min((w || 1) / (x1 - x0 + 2 * pad), (h || 1) / (y1 - y0 + 2 * pad));
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, k };
}

export function toPixel(view, w, h, x, y) {
  return [w / 2 + (x - view.cx) * view.k, h / 2 - (y - view.cy) * view.k];
}

export function toMap(view, w, h, px, py) {
  return [view.cx + (px - w / 2) / view.k, view.cy - (py - h / 2) / view.k];
}

export function zoomAt(ui, factor, px, py) {  // keep the map point under (px, py) where it is
  const { w, h } = size(ui), [x, y] = toMap(ui.view, w, h, px, py), k = ui.view.k * factor;
  ui.view = { k, cx: x - (px - w / 2) / k, cy: y + (py - h / 2) / k };
  ui.moved = true;
  redraw(ui);
}

export function zoomBy(ui, factor) {
  const { w, h } = size(ui);
  zoomAt(ui, factor, w / 2, h / 2);
}

export function resetView(ui) {
  ui.view = wholeView(ui);
  ui.moved = false;  // until the user moves it, the view follows the map's size and classes
  redraw(ui);
}

// ---- drawing ----------------------------------------------------------------------------------------

export function fitCanvases(ui) {
  // As tall as asked, or less on a narrow screen: about square there, so that the page still scrolls past it.
  const tall = Math.min(ui.data.height, Math.max(320, Math.round(ui.stage.clientWidth * 0.9))) + "px";
  if (ui.stage.style.height !== tall) ui.stage.style.height = tall;
  const { w, h } = size(ui), ratio = window.devicePixelRatio || 1;
  if (ui.view && ui.width && w && w !== ui.width) {  // a new width: the whole map again, or the user's view as wide
    ui.view = ui.moved ? { ...ui.view, k: (ui.view.k * w) / ui.width } : wholeView(ui);
  }
  if (w) ui.width = w;
  for (const c of [ui.lattice, ui.canvas, ui.shape]) {
    if (c.width !== Math.round(w * ratio) || c.height !== Math.round(h * ratio)) {
      c.width = Math.round(w * ratio);
      c.height = Math.round(h * ratio);
    }
  }
  if (!ui.view && ui.points && w) ui.view = wholeView(ui);
}

export function context(ui, canvas) {
  const ctx = canvas.getContext("2d"), ratio = window.devicePixelRatio || 1;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  return ctx;
}

export function redraw(ui) {  // at the next frame, once however often asked
  if (!ui.frame) ui.frame = requestAnimationFrame(() => { ui.frame = 0; draw(ui); });
}

export function visible(ui, label) {
  return !ui.hidden.has(label);
}

export function draw(ui) {
  if (!ui.points || !ui.view) return;
  if ((ui.gesture || ui.settling) && ui.slow) {  // too many points to draw a frame: move the last picture meanwhile
    for (const c of [ui.canvas, ui.lattice]) if (c.dataset.view) c.style.transform = shifted(ui, c.dataset.view);
    return;
  }
  ui.canvas.style.transform = "";
  const started = performance.now(), { w, h } = size(ui), view = ui.view, ctx = context(ui, ui.canvas);
  const { xy, labels, order, values } = ui.points, d = ui.data, picked = new Set(ui.picks);
  const faded = picked.size > 0, r = d.radius;
  drawContours(ui, ctx, w, h);  // under the points
  // One path per colour: the classes in their order, or a figure's shades from low to high (the
  // points come sorted by value, the highest drawn last).
  const paths = new Map();
  let shown = 0;
  for (let n = 0; n < order.length; n++) {
    const i = order[n];
    if (!visible(ui, labels[i])) continue;
    shown++;
    const colour = values ? Math.round((SHADES - 1) * Math.max(0, Math.min(1, (values[n] - d.cmin) / ((d.cmax - d.cmin) || 1))))
      : labels[i];
    const key = (faded && !picked.has(i) ? "f" : "s") + colour;
    if (!paths.has(key)) paths.set(key, new Path2D());
    const [px, py] = toPixel(view, w, h, xy[2 * i], xy[2 * i + 1]);
    if (px < -r || py < -r || px > w + r || py > h + r) continue;
    const path = paths.get(key);
    path.moveTo(px + r, py);
    path.arc(px, py, r, 0, 2 * Math.PI);
  }
  const fadedFirst = [...paths].sort(([a], [b]) => (a[0] === b[0] ? 0 : a[0] === "f" ? -1 : 1));
  for (const [key, path] of fadedFirst) {  // the picked over the rest
    const colour = Number(key.slice(1));
    ctx.globalAlpha = key[0] === "f" ? 0.2 : values ? 0.8 : 0.75;
    ctx.fillStyle = values ? viridis(colour / (SHADES - 1)) : d.palette[colour % d.palette.length];
    ctx.fill(path);
    if (values) {  // a gray rim: Viridis's dark end on a dark page, and its yellow end on a light one
      ctx.strokeStyle = "rgba(128, 128, 128, 0.7)";
      ctx.lineWidth = 0.6;
      ctx.stroke(path);
    }
  }
  ctx.globalAlpha = 1;
  drawTexts(ui, ctx, w, h);
  drawPicks(ui, ctx, w, h);
  ui.canvas.dataset.view = [view.cx, view.cy, view.k].map((v) => v.toPrecision(6)).join(",");
  ui.canvas.dataset.drawn = String(shown);  // the points of the classes not hidden, in view or not
  ui.canvas.classList.add("drawn");
  const took = performance.now() - started;
  ui.slow = took > SLOW;
  record("mapDraw", took);
  if (ui.gesture || ui.settling) {  // the lattice (a decode a cell) waits for a pan, pinch or wheel to end, moved meanwhile
    if (ui.lattice.dataset.key) ui.lattice.style.transform = shifted(ui, ui.lattice.dataset.view);
  } else {
    drawLattice(ui);
  }
}

function drawContours(ui, ctx, w, h) {
  for (const layer of ui.data.contours) {
    ctx.strokeStyle = layer.color;
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    const s = layer.pieces || (layer.pieces = typed(layer.segments, Float32Array));  // x0, y0, x1, y1 each
    for (let j = 0; j < s.length; j += 4) {
      ctx.moveTo(...toPixel(ui.view, w, h, s[j], s[j + 1]));
      ctx.lineTo(...toPixel(ui.view, w, h, s[j + 2], s[j + 3]));
    }
    ctx.stroke();
  }
}

function drawTexts(ui, ctx, w, h) {  // the cluster labels, over the points
  ctx.font = "12px 'Source Sans', sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const label of ui.data.texts) {
    const [px, py] = toPixel(ui.view, w, h, label.x, label.y), width = ctx.measureText(label.text).width + 8;
    ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
    ctx.fillRect(px - width / 2, py - 10, width, 20);
    ctx.fillStyle = "#fff";
    ctx.fillText(label.text, px, py);
  }
}

// The picked points: a ring each (the first two only, past RINGS picks), and the first two numbered.
function drawPicks(ui, ctx, w, h) {
  const ink = `rgb(${inkColor().join(",")})`;
  const accent = getComputedStyle(ui.root).getPropertyValue("--st-primary-color").trim() || "#f58518";
  ui.picks.slice(0, ui.picks.length > RINGS ? 2 : RINGS).forEach((index, order) => {
    const xy = ui.points.xy, [px, py] = toPixel(ui.view, w, h, xy[2 * index], xy[2 * index + 1]);
    if (!(px >= 0 && px <= w && py >= 0 && py <= h)) return;
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.strokeStyle = ink;
    ctx.lineWidth = 2.5;
    ctx.stroke();
    if (order < 2) {
      ctx.beginPath();
      ctx.arc(px + 10, py - 10, 8, 0, 2 * Math.PI);
      ctx.fillStyle = accent;
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 11px 'Source Sans', sans-serif";
      ctx.fillText(String(order + 1), px + 10, py - 9.5);
    }
  });
  ui.canvas.dataset.picks = ui.picks.join(",");
}

export function drawKey(ui) {  // the legend or the colour bar, below the map
  const d = ui.data;
  ui.key.replaceChildren();
  if (d.colorbar) {
    const bar = el("div", "colorbar");
    const ramp = el("div", "ramp");
    ramp.style.background = `linear-gradient(to right, ${VIRIDIS.map((c) => `rgb(${c.join(",")})`).join(", ")})`;
    bar.append(ramp);
    const ticks = el("div", "ticks");
    for (const t of d.colorbar.ticks) ticks.append(el("span", "", t.text));
    bar.append(ticks, el("div", "bar-title", d.colorbar.title));
    ui.key.append(bar);
    placeTicks(ui);
    return;
  }
  for (const c of d.classes) {
    const entry = button("", `${ui.hidden.has(c) ? "Show" : "Hide"} ${d.names[c]} on the map (double click: it alone)`,
                         (e) => legendClicked(ui, c, e.detail));
    entry.className = "entry" + (ui.hidden.has(c) ? " off" : "");
    const swatch = el("span", "swatch");
    swatch.style.background = d.palette[c % d.palette.length];
    entry.append(swatch, el("span", "", d.names[c]));
    ui.key.append(entry);
  }
}

export function shifted(ui, drawnAt) {  // the CSS transform that moves a picture drawn at view `drawnAt` to this one
  const [cx, cy, k] = drawnAt.split(",").map(Number), v = ui.view, { w, h } = size(ui), s = v.k / k;
  const [px, py] = toPixel(v, w, h, cx, cy);
  return `translate(${px - (w / 2) * s}px, ${py - (h / 2) * s}px) scale(${s})`;
}

export function placeTicks(ui) {  // each number centred under its mark, but inside the bar (not while hidden)
  const ticks = ui.key.querySelector(".ticks"), width = ticks ? ticks.clientWidth : 0;
  if (!width || !ui.data || !ui.data.colorbar) return;
  const marks = ui.data.colorbar.ticks;
  [...ticks.children].forEach((span, k) => {
    const own = span.offsetWidth;
    span.style.left = `${Math.max(0, Math.min(width - own, marks[k].at * width - own / 2))}px`;
  });
}

// A click on a class's legend entry hides or shows it; the second click of a double click shows that
// class alone (again: all of them), from how things were before the first.
function legendClicked(ui, c, count) {
  const classes = ui.data.classes;
  if (count === 2 && ui.hiddenBefore) {
    const before = ui.hiddenBefore, alone = !before.has(c) && classes.every((k) => k === c || before.has(k));
    ui.hidden = new Set(alone ? [] : classes.filter((k) => k !== c));
  } else {
    ui.hiddenBefore = new Set(ui.hidden);
    if (ui.hidden.has(c)) ui.hidden.delete(c); else ui.hidden.add(c);
  }
  ui.hit = null;
  drawKey(ui);
  redraw(ui);
}

// The decoded lattice: an image at the centre of each cell (about 56 px) of a grid over the view.
export function drawLattice(ui) {
  const d = ui.decoder, canvas = ui.lattice;
  if (!ui.data.lattice || !d) {
    if (canvas.dataset.key) context(ui, canvas);
    canvas.dataset.key = "";
    return;
  }
  const { w, h } = size(ui), view = ui.view, ink = inkColor();
  // Drawn again only when the view, its size, the map or the theme changed.
  const key = [view.cx, view.cy, view.k, w, h, d.decoding.codes_url, ink].join(" ");
  if (canvas.dataset.key === key) return;
  canvas.dataset.key = key;
  canvas.style.transform = "";
  const started = performance.now(), ctx = context(ui, canvas), tile = document.createElement("canvas");
  const cols = Math.max(3, Math.round(w / 56)), rows = Math.max(3, Math.round(h / 56));
  const cw = w / cols, ch = h / rows, side = Math.min(cw, ch) - 4;
  const { side: px, channels } = ui.data.image, n = px * px;
  tile.width = tile.height = px;
  const img = tile.getContext("2d").createImageData(px, px);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [x, y] = toMap(view, w, h, (c + 0.5) * cw, (r + 0.5) * ch);
      const pixels = decode(d.decoding.layers, d.net, codeAt(d.decoding.inverse, d.index, d.mu, d.zDim, x, y).z);
      for (let i = 0; i < n; i++) {  // faint: the points stay readable over it
        if (channels === 1) {
          img.data.set(ink, 4 * i);
          img.data[4 * i + 3] = Math.round(pixels[i] * 150);
        } else {
          for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(pixels[k * n + i] * 255);
          img.data[4 * i + 3] = 150;
        }
      }
      tile.getContext("2d").putImageData(img, 0, 0);
      ctx.drawImage(tile, c * cw + (cw - side) / 2, r * ch + (ch - side) / 2, side, side);
    }
  }
  canvas.dataset.view = ui.canvas.dataset.view;
  canvas.dataset.cells = String(rows * cols);
  record("mapLattice", performance.now() - started);
}

// The view as a picture: the lattice and the points on the page's background, the legend or the
// colour bar's title and span written under them; downloaded as latent-map.png (made here, sent nowhere).
export function savePicture(ui) {
  const ratio = window.devicePixelRatio || 1, { w, h } = size(ui), d = ui.data, line = 24;
  const out = el("canvas"), ctx = out.getContext("2d");
  ctx.font = "12px 'Source Sans', sans-serif";
  // The key's entries, in rows as wide as the map: [text, colour or null, x, row] each.
  const entries = [];
  let x = 8, row = 0;
  const items = d.colorbar  // the span: of the points shown
    ? [[`${d.colorbar.title}: Viridis from ${d.cmin.toFixed(2)} (1st percentile) to ${d.cmax.toFixed(2)} (99th)`, null]]
    : d.classes.filter((c) => !ui.hidden.has(c)).map((c) => [d.names[c], d.palette[c % d.palette.length]]);
  for (const [text, colour] of items) {
    const width = (colour ? 14 : 0) + ctx.measureText(text).width + 10;
    if (x > 8 && x + width > w) { x = 8; row++; }
    entries.push([text, colour, x, row]);
    x += width;
  }
  out.width = Math.round(w * ratio);
  out.height = Math.round((h + line * (row + 1) + 4) * ratio);
  const app = document.querySelector("[data-testid=stApp]") || document.body, ink = `rgb(${inkColor().join(",")})`;
  ctx.fillStyle = getComputedStyle(app).backgroundColor;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(ui.lattice, 0, 0);
  ctx.drawImage(ui.canvas, 0, 0);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.font = "12px 'Source Sans', sans-serif";
  ctx.textBaseline = "middle";
  for (const [text, colour, left, r] of entries) {
    const y = h + line * r + line / 2 + 2;
    if (colour) {
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.arc(left + 5, y, 5, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.fillStyle = ink;
    ctx.fillText(text, left + (colour ? 14 : 0), y);
  }
  const link = el("a");
  link.href = out.toDataURL("image/png");
  link.download = "latent-map.png";
  link.click();
}
