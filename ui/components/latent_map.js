// The latent map, drawn on a canvas of its own (ui/map_chart.py sends what to draw; map_draw.js, joined
// before this file, draws it):
//   - the points, in their classes' colours (a legend below; a click on an entry hides that class) or
//     coloured by a figure of each image (Viridis, a colour bar below)
//   - density contours and cluster labels over them, on request
//   - pan (drag), zoom (the + and - buttons, Ctrl + wheel or a trackpad's pinch, two fingers), a
//     double click or double tap to see the whole map again; box and lasso selection
//   - a click or tap on a point picks it (Shift, Ctrl or Cmd: adds it, or takes it out); the picks
//     numbered in the order they were picked (1 is where an interpolation starts), the rest faded
//   - hover a point: a thumbnail of that image beside the pointer, with its class and index
//   - hover the space between points: the image decoded there, in this tab, at the code that map
//     position stands for (map_decode.js), with how far it is from any real code; a click there
//     opens that code in the sliders
//   - on request, the decoded lattice: an image decoded at the centre of each cell of a grid over the
//     view, under the points, drawn again after every zoom and pan
// Why not plotly: its 4.7 MB of code and its WebGL drawing were most of the first page's time in the
// browser (BENCHMARKS.md section 6). Every text is set with textContent.

const IMAGES = new Map();  // url -> Promise<Uint8Array>
const TAP = 6;  // px: a press and release closer than this is a click or tap, not a drag
const HIT = { mouse: 10, touch: 20, pen: 20 };  // px: a point this close to the pointer is the one under it
const AMBIGUOUS = 1.5;  // a finger's tap within this many hit radii of a point, not on one, picks and opens nothing
const DOUBLE = 300;  // ms between the two taps of a double tap

function loadImages(url) {
  if (!IMAGES.has(url)) {
    IMAGES.set(url, fetch(url).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return new Response(r.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
    }).then((b) => new Uint8Array(b)));
  }
  return IMAGES.get(url);
}

export function button(text, title, onClick, name) {  // named by its text, or `name` where the text is a symbol
  const b = el("button", "tool", text);
  b.type = "button";
  b.title = title;
  if (name) b.setAttribute("aria-label", name);
  b.addEventListener("click", onClick);
  return b;
}

function build(root) {
  const ui = { root, data: null, view: null, mapId: null, hidden: new Set(), picks: [], mode: "pan",
               pointers: new Map(), gesture: null, lastTap: null, hovered: null, decoded: null, decoder: null,
               loading: null, pendingOpen: 0, frame: 0, moved: false, inside: false };
  const tools = el("div", "tools");
  ui.modes = {};
  for (const [mode, text, title] of [["pan", "Pan", "Drag to move the map"],
                                     ["box", "Box", "Drag a box to pick the points in it (Shift: add them)"],
                                     ["lasso", "Lasso", "Draw around points to pick them (Shift: add them)"]]) {
    ui.modes[mode] = button(text, title, () => setMode(ui, mode));
    tools.append(ui.modes[mode]);
  }
  tools.append(button("+", "Zoom in (or Ctrl + wheel, or two fingers)", () => zoomBy(ui, 1.5), "Zoom in"),
               button("−", "Zoom out", () => zoomBy(ui, 1 / 1.5), "Zoom out"),
               button("Whole map", "See the whole map again (or double-click it)", () => resetView(ui)),
               button("PNG", "Save the map as it is shown, with its key, as a PNG picture", () => savePicture(ui)));
  const stage = el("div", "stage");
  stage.setAttribute("data-testid", "map-stage");
  ui.lattice = el("canvas", "layer");
  ui.lattice.setAttribute("data-testid", "map-lattice");
  ui.canvas = el("canvas", "layer");
  ui.canvas.setAttribute("data-testid", "map-points");
  ui.shape = el("canvas", "layer");  // a box or lasso being drawn
  stage.append(ui.lattice, ui.canvas, ui.shape);
  ui.key = el("div", "key");
  ui.tip = el("div", "tip");
  ui.thumb = el("canvas");
  ui.thumb.setAttribute("data-testid", "map-hover-digit");
  ui.label = el("div", "tip-label");
  ui.label.setAttribute("data-testid", "map-hover-label");
  ui.tip.append(ui.thumb, ui.label);
  root.append(tools, stage, ui.key, ui.tip);
  ui.stage = stage;
  setMode(ui, "pan");
  bindPointer(ui);
  new ResizeObserver(() => { fitCanvases(ui); redraw(ui); }).observe(stage);
  new ResizeObserver(() => placeTicks(ui)).observe(ui.key);
  document.fonts.ready.then(() => placeTicks(ui));
  return ui;
}

function setMode(ui, mode) {
  ui.mode = mode;
  for (const [m, b] of Object.entries(ui.modes)) b.setAttribute("aria-pressed", String(m === mode));
}

// ---- what is under the pointer ----------------------------------------------------------------------

function stagePoint(ui, e) {  // the event's position on the stage, in px; null off it
  const r = ui.stage.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
  return px >= 0 && px <= r.width && py >= 0 && py <= r.height ? [px, py] : null;
}

// The index of the shown point under (px, py) for a pointer of this kind ("mouse", "touch", "pen"), or
// null; with `near`, the distance in px to the nearest shown point as well: [index or null, px].
function pointUnder(ui, px, py, kind = "mouse", near = false) {
  if (!ui.hit) {  // the shown points, in buckets (map_decode.js)
    const { xy, labels, order } = ui.points, keep = order.filter((i) => visible(ui, labels[i]));
    const flat = new Float64Array(2 * keep.length);
    keep.forEach((i, n) => { flat[2 * n] = xy[2 * i]; flat[2 * n + 1] = xy[2 * i + 1]; });
    ui.hit = { index: keep.length ? mapIndex(flat) : null, keep };
  }
  if (!ui.hit.index) return near ? [null, Infinity] : null;
  const { w, h } = size(ui), [x, y] = toMap(ui.view, w, h, px, py);
  const nearest = nearestPoints(ui.hit.index, x, y, 1), distance = nearest.dist[0] * ui.view.k;
  const index = distance <= (HIT[kind] || HIT.mouse) ? ui.hit.keep[nearest.idx[0]] : null;
  return near ? [index, distance] : index;
}

function showTip(ui, e) {  // above the pointer, to its left unless the map's left edge is near
  const left = ui.stage.getBoundingClientRect().left;
  ui.tip.style.display = "block";
  const x = Math.min(e.clientX - 120 > left ? e.clientX - 120 : e.clientX + 20, window.innerWidth - ui.tip.offsetWidth - 4);
  Object.assign(ui.tip.style, { left: Math.max(4, x) + "px", top: (e.clientY > 140 ? e.clientY - 130 : e.clientY + 20) + "px" });
}

function hideTip(ui) {
  ui.tip.style.display = "none";
  ui.hovered = null;
}

function showImage(ui, index, e) {  // the thumbnail of the map's image `index`
  const name = ui.data.names[ui.points.labels[index]];
  ui.label.textContent = `${name} · #${index}`;
  ui.hovered = index;
  ui.decoded = null;
  showTip(ui, e);
  loadImages(ui.data.images_url).then((images) => {
    const { side, channels } = ui.data.image;
    if (ui.hovered === index) {
      paintImage(ui.thumb, images, { shape: ui.data.image, scale: 1, offset: index * side * side * channels,
                                     interleaved: true });
    }
  }).catch((err) => { ui.label.textContent = `${name} · #${index} (no image: ${err.message})`; });
}

// How far the pointer is from the map's points, in words: within two of the usual gaps between
// neighbouring points it is among them; beyond, the distance as a share of the map's width. (A
// distance on the map: for PCA the decoded code lies on the principal plane, off which real codes sit.)
export function distanceWords(gaps, inverse) {
  if (gaps <= 2) return "among the map's points";
  const share = (100 * gaps * inverse.gap) / inverse.width;
  return `${share < 1 ? share.toFixed(1) : Math.round(share)}% of the map's width from its nearest point`;
}

function decodeAt(ui, e, px, py) {  // the image the map position (px, py) stands for, decoded here
  const d = ui.decoder;
  if (!d) return;
  const started = performance.now(), { w, h } = size(ui), [x, y] = toMap(ui.view, w, h, px, py);
  const code = codeAt(d.decoding.inverse, d.index, d.mu, d.zDim, x, y);
  paintImage(ui.thumb, decode(d.decoding.layers, d.net, code.z), { shape: ui.data.image });
  ui.label.textContent = `decoded here · ${distanceWords(code.gaps, d.decoding.inverse)}`;
  ui.decoded = code.z;
  ui.hovered = null;
  showTip(ui, e);
  record("mapDecode", performance.now() - started);
}

function hover(ui, e) {
  const at = stagePoint(ui, e);
  if (!at) return hideTip(ui);
  const index = pointUnder(ui, ...at, e.pointerType);
  if (index !== null) {
    if (index !== ui.hovered) showImage(ui, index, e); else showTip(ui, e);
    return;
  }
  if (!ui.decoder) {
    hideTip(ui);
    loadDecoder(ui).then(() => { if (ui.pointers.size === 0 && ui.inside) decodeAt(ui, e, ...at); });
    return;
  }
  decodeAt(ui, e, ...at);
}

// The decoder and the map's codes, fetched when the pointer first comes to the map (or the lattice
// is asked for), once per map. A new map or model drops the old ones at once, so nothing mixes the
// two; a fetch that ends after a newer one began is dropped too.
function loadDecoder(ui) {
  const decoding = ui.data.decoding;
  if (!decoding) {
    ui.decoder = ui.decoded = ui.loading = null;
    return Promise.resolve(null);
  }
  if (ui.loading && ui.loading.url === decoding.codes_url) return ui.loading.promise;
  ui.decoder = ui.decoded = null;
  const promise = Promise.all([loadNet(decoding.weights_url), fetchTensors(decoding.codes_url)]).then(([net, t]) => {
    if (!ui.loading || ui.loading.promise !== promise) return null;  // a newer map's load began meanwhile
    ui.decoder = { decoding, net, mu: t.mu, zDim: t.mu.shape[1], index: mapIndex(t.xy) };
    expose("mapDecodeAt", (x, y) => Array.from(codeAt(decoding.inverse, ui.decoder.index, ui.decoder.mu,
                                                      ui.decoder.zDim, x, y).z));
    drawLattice(ui);
    return ui.decoder;
  }).catch((e) => { ui.label.textContent = "Could not load the decoder: " + e.message; return null; });
  ui.loading = { url: decoding.codes_url, promise };
  return promise;
}

// ---- gestures ---------------------------------------------------------------------------------------

function pick(ui, indices) {  // the picks, in the order they were picked, to the page (and drawn at once)
  ui.picks = indices;
  ui.setTriggerValue("pick", ui.picks);
  redraw(ui);
}

function inside(polygon, x, y) {  // even-odd rule, pixel coordinates
  let yes = false;
  for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
    const [xa, ya] = polygon[a], [xb, yb] = polygon[b];
    if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) yes = !yes;
  }
  return yes;
}

function selectIn(ui, polygon, add) {  // the shown points inside a polygon of stage pixels
  const { w, h } = size(ui), { xy, labels, order } = ui.points, found = [];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of polygon) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  for (const i of order) {
    if (!visible(ui, labels[i])) continue;
    const [px, py] = toPixel(ui.view, w, h, xy[2 * i], xy[2 * i + 1]);
    if (px >= x0 && px <= x1 && py >= y0 && py <= y1 && inside(polygon, px, py)) found.push(i);
  }
  const before = add ? ui.picks : [], had = new Set(before);
  pick(ui, [...before, ...found.filter((i) => !had.has(i))]);
}

function drawShape(ui) {
  const ctx = context(ui, ui.shape), g = ui.gesture;
  if (!g || !g.path || g.path.length < 2) return;
  ctx.strokeStyle = `rgb(${inkColor().join(",")})`;
  ctx.setLineDash([4, 3]);
  ctx.lineWidth = 1;
  ctx.fillStyle = "rgba(128, 128, 128, 0.15)";
  ctx.beginPath();
  const path = g.kind === "box" ? boxOf(g.path) : g.path;
  path.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.closePath();
  ctx.fill();
  ctx.stroke();
}

function boxOf(path) {
  const [a, b] = [path[0], path[path.length - 1]];
  return [a, [b[0], a[1]], b, [a[0], b[1]]];
}

function tapped(ui, e, at) {  // a click or tap in place
  const now = performance.now(), last = ui.lastTap;
  if (last && now - last.time < DOUBLE && Math.hypot(at[0] - last.at[0], at[1] - last.at[1]) < 3 * TAP) {
    clearTimeout(ui.pendingOpen);  // a double click or tap: the whole map, and nothing opened
    ui.lastTap = null;
    if (last.picksBefore) pick(ui, last.picksBefore);  // nor picked, if its first click picked
    resetView(ui);
    return;
  }
  const tap = (ui.lastTap = { time: now, at, picksBefore: null });
  const [index, distance] = pointUnder(ui, ...at, e.pointerType, true);
  if (index !== null) {
    const add = e.shiftKey || e.ctrlKey || e.metaKey;
    tap.picksBefore = ui.picks;
    pick(ui, add ? (ui.picks.includes(index) ? ui.picks.filter((i) => i !== index) : [...ui.picks, index]) : [index]);
    if (e.pointerType !== "mouse") {  // a finger hovers nothing before it taps: the thumbnail, for a while
      showImage(ui, index, e);
      clearTimeout(ui.tipTimer);
      ui.tipTimer = setTimeout(() => hideTip(ui), 2500);
    }
    return;
  }
  if (e.pointerType !== "mouse" && distance <= AMBIGUOUS * HIT[e.pointerType]) return;  // a finger just off a point
  // Between the points: open what is decoded there in the sliders, unless a second tap follows
  // (or came while the decoder loaded) or a pointer is down again.
  loadDecoder(ui).then(() => {
    if (!ui.decoder || ui.lastTap !== tap || ui.pointers.size) return;
    decodeAt(ui, e, ...at);
    const z = Array.from(ui.decoded);
    const wait = Math.max(0, DOUBLE - (performance.now() - tap.time));
    ui.pendingOpen = setTimeout(() => { if (ui.lastTap === tap && !ui.pointers.size) ui.setTriggerValue("open", z); }, wait);
  });
}

function pressed(ui, e) {
  if ((e.pointerType === "mouse" && e.button !== 0) || ui.pointers.size >= 2) return;  // a third finger: no part
  ui.stage.setPointerCapture(e.pointerId);
  const at = stagePoint(ui, e);
  ui.pointers.set(e.pointerId, at);
  clearTimeout(ui.pendingOpen);
  if (!ui.decoder) loadDecoder(ui);
  if (ui.pointers.size === 2) {  // two fingers: pinch and move, whatever the mode
    const [a, b] = [...ui.pointers.values()];
    ui.gesture = { kind: "pinch", distance: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, middle: mid(a, b) };
    context(ui, ui.shape);
    return;
  }
  ui.gesture = { kind: ui.mode, start: at, last: at, path: ui.mode === "pan" ? null : [at], moved: false };
}

function pinched(ui) {
  const g = ui.gesture;
  if (ui.pointers.size < 2) return;
  const [a, b] = [...ui.pointers.values()], distance = Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, m = mid(a, b);
  ui.view = { ...ui.view, cx: ui.view.cx - (m[0] - g.middle[0]) / ui.view.k, cy: ui.view.cy + (m[1] - g.middle[1]) / ui.view.k };
  zoomAt(ui, distance / g.distance, ...m);
  Object.assign(g, { distance, middle: m });
  hideTip(ui);
}

function moved(ui, e) {
  const g = ui.gesture;
  if (g && e.pointerType === "mouse" && !e.buttons && ui.pointers.has(e.pointerId)) {  // its release went elsewhere
    return released(ui, { pointerId: e.pointerId, type: "pointercancel" });
  }
  if (!g) return hover(ui, e);
  if (!ui.pointers.has(e.pointerId)) return;  // a third finger during a pinch
  const at = stagePoint(ui, e) || ui.pointers.get(e.pointerId);
  ui.pointers.set(e.pointerId, at);
  if (g.kind === "pinch") return pinched(ui);
  if (!g.moved && Math.hypot(at[0] - g.start[0], at[1] - g.start[1]) < TAP) return;
  g.moved = true;
  hideTip(ui);
  if (g.kind === "pan") {
    ui.view = { ...ui.view, cx: ui.view.cx - (at[0] - g.last[0]) / ui.view.k, cy: ui.view.cy + (at[1] - g.last[1]) / ui.view.k };
    ui.moved = true;
    g.last = at;
    redraw(ui);
  } else {
    if (g.kind === "box") g.path = [g.start, at]; else g.path.push(at);
    drawShape(ui);
  }
}

function released(ui, e) {
  if (!ui.pointers.has(e.pointerId)) return;
  ui.pointers.delete(e.pointerId);
  const g = ui.gesture;
  if (!g || e.type === "pointercancel") {
    ui.gesture = null;
    context(ui, ui.shape);
    return redraw(ui);
  }
  if (g.kind === "pinch") {
    if (ui.pointers.size === 0) ui.gesture = null;
    return redraw(ui);
  }
  ui.gesture = null;
  if (!g.moved) return tapped(ui, e, g.start);
  if (g.kind === "pan") redraw(ui);
  if (g.kind !== "pan" && g.path.length > 1) selectIn(ui, g.kind === "box" ? boxOf(g.path) : g.path, e.shiftKey);
  context(ui, ui.shape);
}

function bindPointer(ui) {
  const stage = ui.stage;
  stage.addEventListener("pointerdown", (e) => pressed(ui, e));
  stage.addEventListener("pointermove", (e) => moved(ui, e));
  stage.addEventListener("pointerup", (e) => released(ui, e));
  stage.addEventListener("pointercancel", (e) => released(ui, e));
  stage.addEventListener("lostpointercapture", (e) => released(ui, { pointerId: e.pointerId, type: "pointercancel" }));
  stage.addEventListener("contextmenu", (e) => e.preventDefault());  // Ctrl-click on a Mac: a pick, not a menu
  stage.addEventListener("pointerenter", () => { ui.inside = true; });
  stage.addEventListener("pointerleave", (e) => {
    ui.inside = false;
    if (!ui.pointers.size && e.pointerType === "mouse") hideTip(ui);
  });
  const scrolled = () => {  // the thumbnail would float away from its point
    if (!ui.root.isConnected) window.removeEventListener("scroll", scrolled, { capture: true });
    else hideTip(ui);
  };
  window.addEventListener("scroll", scrolled, { capture: true, passive: true });
  stage.addEventListener("wheel", (e) => {  // Ctrl + wheel, and a trackpad's pinch; a plain wheel scrolls the page
    if (!e.ctrlKey && !e.metaKey) return;
    e.preventDefault();
    const at = stagePoint(ui, e);
    clearTimeout(ui.settled);
    ui.settling = true;
    ui.settled = setTimeout(() => { ui.settling = false; redraw(ui); }, 200);
    if (at) zoomAt(ui, Math.exp(-e.deltaY / 300), ...at);
  }, { passive: false });
}

function mid(a, b) {
  return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
}

// ---- Streamlit ----------------------------------------------------------------------------------------

export default function (component) {
  const { parentElement, setTriggerValue } = component, data = dataOf(component);
  let root = parentElement.querySelector(".latent-map-root");
  if (!root) {
    root = el("div", "latent-map-root");
    parentElement.append(root);
    root.__ui = build(root);
  }
  const ui = root.__ui;
  ui.setTriggerValue = setTriggerValue;
  const xy = typed(data.xy, Float32Array), newMap = data.map_id !== ui.mapId;
  ui.points = { xy, labels: typed(data.labels, Int32Array), order: typed(data.order, Int32Array),
                values: data.values ? typed(data.values, Float32Array) : null };
  if (newMap || data.colorbar) ui.hidden.clear();  // a colour bar has no legend to bring a class back
  for (const c of [...ui.hidden]) if (!data.classes.includes(c)) ui.hidden.delete(c);  // filtered out meanwhile
  ui.data = data;
  ui.picks = data.picks;
  ui.hit = null;
  if (newMap || !ui.moved) {  // a new map, or the same one with other classes: all of it in view
    ui.mapId = data.map_id;
    ui.view = null;
    ui.moved = false;
  }
  if (ui.thumb.width !== data.image.side) ui.thumb.width = ui.thumb.height = data.image.side;
  if (data.lattice || (ui.loading && data.decoding && ui.loading.url !== data.decoding.codes_url) || !data.decoding) {
    loadDecoder(ui);  // the lattice needs it now; a new map or model replaces the one loaded
  }
  fitCanvases(ui);
  drawKey(ui);
  redraw(ui);
  return () => { clearTimeout(ui.pendingOpen); };  // a tap just before leaving opens nothing afterwards
}
