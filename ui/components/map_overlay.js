// Map overlay: what the latent map's plotly chart cannot show by itself, drawn over it in the browser.
//   - hover a point: a thumbnail of that digit beside the pointer, with its class and index
//   - hover (touch: drag over) the space between points: the digit decoded here, in this tab, at the
//     code that map position stands for (map_decode.js), with how far it is from any real code; a
//     click there opens that code in the sliders
//   - the picked points, numbered in the order they were picked (1 is where an interpolation starts)
//   - on request, the decoded lattice: a digit decoded at the centre of each cell of a grid over the
//     current view, under the points, drawn again after every zoom and pan
// The chart is found by its Streamlit key (`.st-key-<chart_key>`); plotly's hover events name the
// point (customdata: its index in the map's images). The images come once per map, on the first
// hover, from a gzipped uint8 file (N x side x side x channels). Every text is set with textContent.

const IMAGES = new Map();  // url -> Promise<Uint8Array>

function loadImages(url) {
  if (!IMAGES.has(url)) {
    IMAGES.set(url, fetch(url).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return new Response(r.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
    }).then((b) => new Uint8Array(b)));
  }
  return IMAGES.get(url);
}

function build(root) {
  const tip = el("div", "tip");
  const canvas = document.createElement("canvas");
  canvas.setAttribute("data-testid", "map-hover-digit");
  const label = el("div", "tip-label");
  label.setAttribute("data-testid", "map-hover-label");
  tip.append(canvas, label);
  const marks = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  marks.setAttribute("class", "marks");
  marks.setAttribute("data-testid", "map-picks");
  root.append(tip, marks);
  return { tip, canvas, label, marks, gd: null, data: null, hovered: null, decoded: null, decoder: null,
           loading: null, down: null, pendingOpen: 0, latticeKey: "" };
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// The picked points, placed with plotly's own axes; redrawn on zoom, pan, resize, scroll and layout changes.
function drawMarks(ui) {
  const gd = ui.gd, marks = ui.marks;
  marks.replaceChildren();
  if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis || !ui.data.picks.length) {
    marks.style.display = "none";
    return;
  }
  const area = gd.querySelector(".nsewdrag");
  if (!area) return;
  const r = area.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  Object.assign(marks.style, { display: "block", left: r.left + "px", top: r.top + "px",
                               width: r.width + "px", height: r.height + "px" });
  marks.setAttribute("viewBox", `0 0 ${r.width} ${r.height}`);
  ui.data.picks.forEach(([index, x, y], order) => {
    const px = xa.l2p(x), py = ya.l2p(y);
    if (!(px >= 0 && px <= r.width && py >= 0 && py <= r.height)) return;
    const g = svg("g", { "data-index": index });
    g.append(svg("circle", { cx: px, cy: py, r: 7, class: "ring" }));
    if (order < 2) {
      g.append(svg("circle", { cx: px + 10, cy: py - 10, r: 8, class: "badge" }));
      const t = svg("text", { x: px + 10, y: py - 6.5, class: "badge-text" });
      t.textContent = String(order + 1);
      g.append(t);
    }
    marks.append(g);
  });
}

function inkColor() {  // the theme's text colour, [r, g, b]
  const app = document.querySelector("[data-testid=stApp]") || document.body;
  return (getComputedStyle(app).color.match(/\d+/g) || [128, 128, 128]).slice(0, 3).map(Number);
}

function latticeCanvas(gd) {  // under the points: after plotly's background layer, before its WebGL one
  let canvas = gd.querySelector("canvas.map-lattice");
  const background = gd.querySelector(".svg-container > .main-svg");
  if (!canvas && background) {
    canvas = document.createElement("canvas");
    canvas.className = "map-lattice";
    canvas.setAttribute("data-testid", "map-lattice");
    Object.assign(canvas.style, { position: "absolute", pointerEvents: "none" });
    background.after(canvas);
  }
  return canvas;
}

// The decoded lattice: a digit at the centre of each cell (about 56 px) of a grid over the view.
function drawLattice(ui) {
  const gd = ui.gd, d = ui.decoder, layout = gd && gd._fullLayout;
  if (!ui.data.lattice || !d || !layout || !layout.xaxis) {
    const old = gd && gd.querySelector("canvas.map-lattice");
    if (old) old.remove();
    return;
  }
  const canvas = latticeCanvas(gd);
  const size = layout._size, xa = layout.xaxis, ya = layout.yaxis;
  // Drawn again only when the view, its size or the map changed (plotly reports a zoom twice).
  const key = [...xa.range, ...ya.range, size.w, size.h, d.decoding.codes_url, inkColor()].join(" ");
  if (!canvas || (canvas.dataset.key === key && canvas.isConnected)) return;
  canvas.dataset.key = key;
  const started = performance.now();
  const cols = Math.max(3, Math.round(size.w / 56)), rows = Math.max(3, Math.round(size.h / 56));
  const cw = size.w / cols, ch = size.h / rows, side = Math.min(cw, ch) - 4, ratio = window.devicePixelRatio || 1;
  Object.assign(canvas.style, { left: size.l + "px", top: size.t + "px", width: size.w + "px", height: size.h + "px" });
  canvas.width = Math.round(size.w * ratio);
  canvas.height = Math.round(size.h * ratio);
  const ctx = canvas.getContext("2d"), tile = document.createElement("canvas"), ink = inkColor();
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const { side: px, channels } = ui.data.image, n = px * px;
  tile.width = tile.height = px;
  const img = tile.getContext("2d").createImageData(px, px);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = codeAt(d.decoding.inverse, d.index, d.mu, d.zDim, xa.p2l((c + 0.5) * cw), ya.p2l((r + 0.5) * ch));
      const pixels = decode(d.decoding.layers, d.net, code.z);
      for (let i = 0; i < n; i++) {  // faint: the points stay readable over it
        if (channels === 1) {
          img.data.set(ink, 4 * i);
          img.data[4 * i + 3] = Math.round(pixels[i] * 150);
        } else {
          for (let c = 0; c < 3; c++) img.data[4 * i + c] = Math.round(pixels[c * n + i] * 255);
          img.data[4 * i + 3] = 150;
        }
      }
      tile.getContext("2d").putImageData(img, 0, 0);
      ctx.drawImage(tile, c * cw + (cw - side) / 2, r * ch + (ch - side) / 2, side, side);
    }
  }
  canvas.dataset.view = [...xa.range, ...ya.range].map((v) => Number(v).toFixed(4)).join(",");
  canvas.dataset.cells = String(rows * cols);
  record("mapLattice", performance.now() - started);
}

// Plot-area pixels -> map coordinates, through plotly's own axes; null off the plot area.
function mapPoint(ui, clientX, clientY) {
  const gd = ui.gd, area = gd && gd.querySelector(".nsewdrag");
  if (!area || !gd._fullLayout || !gd._fullLayout.xaxis) return null;
  const r = area.getBoundingClientRect(), px = clientX - r.left, py = clientY - r.top;
  if (!(px >= 0 && px <= r.width && py >= 0 && py <= r.height)) return null;
  return [gd._fullLayout.xaxis.p2l(px), gd._fullLayout.yaxis.p2l(py)];
}

function showTip(ui, clientX, clientY) {  // above the pointer, to its left unless the plot's left edge is near
  const area = ui.gd && ui.gd.querySelector(".nsewdrag"), left = area ? area.getBoundingClientRect().left : 0;
  ui.tip.style.display = "block";
  const x = Math.min(clientX - 120 > left ? clientX - 120 : clientX + 20, window.innerWidth - ui.tip.offsetWidth - 4);
  Object.assign(ui.tip.style, { left: Math.max(4, x) + "px", top: (clientY > 140 ? clientY - 130 : clientY + 20) + "px" });
}

// How far the pointer is from the map's points, in words: within two of the usual gaps between
// neighbouring points it is among them; beyond, the distance as a share of the map's width. (A
// distance on the map: for PCA the decoded code lies on the principal plane, off which real codes sit.)
export function distanceWords(gaps, inverse) {
  if (gaps <= 2) return "among the map's points";
  const share = (100 * gaps * inverse.gap) / inverse.width;
  return `${share < 1 ? share.toFixed(1) : Math.round(share)}% of the map's width from its nearest point`;
}

// The digit the map position under the pointer stands for, decoded here (none over a real point,
// whose own thumbnail plotly's hover brings).
function decodeUnder(ui, clientX, clientY) {
  const at = ui.hovered === null && ui.decoder && mapPoint(ui, clientX, clientY);
  if (!at) return;
  const started = performance.now(), d = ui.decoder;
  const code = codeAt(d.decoding.inverse, d.index, d.mu, d.zDim, at[0], at[1]);
  paintImage(ui.canvas, decode(d.decoding.layers, d.net, code.z), { shape: ui.data.image });
  ui.label.textContent = `decoded here · ${distanceWords(code.gaps, d.decoding.inverse)}`;
  ui.decoded = code.z;
  showTip(ui, clientX, clientY);
  record("mapDecode", performance.now() - started);
}

// The decoder and the map's codes, fetched when the pointer first comes to the map (or the
// lattice is asked for), once per map. A new map or model drops the old ones at once, so nothing
// mixes the two; a fetch that ends after a newer one began is dropped too.
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

// A click or tap between the points opens its code in the sliders: a press and release in place
// on the plot itself (not a zoom or pan, nor its toolbar, legend or axes), and no second one soon
// after (a double click resets plotly's zoom). Pointer events, since plotly takes a finger's
// touches for itself and no click follows them; the release is heard on the window (bound once),
// since a mouse's lands on the cover plotly lays over the page while pressed.
function bindPointer(ui, host) {
  host.addEventListener("pointerenter", () => loadDecoder(ui));
  host.addEventListener("pointermove", (e) => {  // also where the pointer was there before this was bound
    if (!ui.decoder) loadDecoder(ui);
    decodeUnder(ui, e.clientX, e.clientY);
  }, { passive: true });
  host.addEventListener("pointerleave", () => { if (ui.hovered === null) ui.tip.style.display = "none"; });
  host.addEventListener("pointerdown", (e) => {
    clearTimeout(ui.pendingOpen);
    const onPlot = e.target instanceof Element && e.target.classList.contains("nsewdrag");
    ui.down = onPlot ? [e.clientX, e.clientY] : null;
    if (onPlot) loadDecoder(ui).then(() => decodeUnder(ui, e.clientX, e.clientY));
  });
}

function released(ui, e) {
  const down = ui.down;
  ui.down = null;
  if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) >= 6 || !mapPoint(ui, e.clientX, e.clientY)) return;
  // A tap may come before the decoder has loaded: open what it decodes to once it has.
  loadDecoder(ui).then(() => {
    decodeUnder(ui, e.clientX, e.clientY);
    if (ui.hovered !== null || !ui.decoded) return;
    const z = Array.from(ui.decoded);
    ui.pendingOpen = setTimeout(() => { if (ui.hovered === null) ui.setTriggerValue("open", z); }, 300);
  });
}

function attach(ui) {
  const host = document.querySelector(`.st-key-${ui.data.chart_key} .js-plotly-plot`);
  if (!host || host === ui.gd || typeof host.on !== "function") return;
  ui.gd = host;
  host.on("plotly_hover", (e) => {
    const p = e.points && e.points[0];
    if (!p || p.customdata === undefined) return;
    const index = Number(p.customdata), pointer = e.event || {};
    ui.label.textContent = `${p.data.name} · #${index}`;
    showTip(ui, pointer.clientX || 0, pointer.clientY || 0);
    ui.hovered = index;
    ui.decoded = null;
    loadImages(ui.data.images_url).then((images) => {
      const { side, channels } = ui.data.image;
      if (ui.hovered === index) {
        paintImage(ui.canvas, images, { shape: ui.data.image, scale: 1, offset: index * side * side * channels,
                                        interleaved: true });
      }
    }).catch((err) => { ui.label.textContent = `${p.data.name} · #${index} (no image: ${err.message})`; });
  });
  host.on("plotly_unhover", () => { ui.hovered = null; ui.tip.style.display = "none"; });
  host.on("plotly_afterplot", () => { drawMarks(ui); drawLattice(ui); });
  host.on("plotly_relayout", () => { drawMarks(ui); drawLattice(ui); });
  bindPointer(ui, host);
  drawMarks(ui);
  drawLattice(ui);
}

// What watches the page for this overlay: its chart appearing or changing, the page moving it, the
// pointer let go anywhere. Armed while the overlay is on the page; `ui.disarm` lets go of all of it.
function arm(ui) {
  const redraw = () => drawMarks(ui), release = (e) => released(ui, e);
  window.addEventListener("pointerup", release);
  window.addEventListener("scroll", redraw, { capture: true, passive: true });
  window.addEventListener("resize", redraw, { passive: true });
  // The marks are placed in the window, so whatever moves the chart moves them: the page growing
  // or shrinking above it (an expander opening, frame by frame) as well as a scroll.
  const resized = new ResizeObserver(redraw), page = document.querySelector("[data-testid=stMainBlockContainer]");
  if (page) resized.observe(page);
  // The chart is drawn before or after this element, and again whenever its figure changes.
  let pending = 0;
  const observer = new MutationObserver(() => {
    if (!pending) pending = requestAnimationFrame(() => { pending = 0; attach(ui); });
  });
  observer.observe(document.body, { childList: true, subtree: true });
  ui.disarm = () => {
    observer.disconnect();
    resized.disconnect();
    cancelAnimationFrame(pending);
    clearTimeout(ui.pendingOpen);  // a tap just before leaving opens nothing afterwards
    window.removeEventListener("pointerup", release);
    window.removeEventListener("scroll", redraw, { capture: true });
    window.removeEventListener("resize", redraw);
    ui.disarm = null;
  };
}

export default function (component) {
  const { parentElement, setTriggerValue } = component, data = dataOf(component);
  let root = parentElement.querySelector(".map-overlay-root");
  if (!root) {
    root = el("div", "map-overlay-root");
    parentElement.append(root);
    root.__ui = build(root);
  }
  const ui = root.__ui;
  if (!ui.disarm) arm(ui);
  const call = (ui.calls = (ui.calls || 0) + 1);
  ui.data = data;
  if (ui.canvas.width !== data.image.side) ui.canvas.width = ui.canvas.height = data.image.side;
  ui.setTriggerValue = setTriggerValue;
  if (data.lattice || (ui.loading && data.decoding && ui.loading.url !== data.decoding.codes_url) || !data.decoding) {
    loadDecoder(ui);  // the lattice needs it now; a new map or model replaces the one loaded
  }
  attach(ui);
  drawMarks(ui);
  drawLattice(ui);
  // Streamlit calls what this returns when the element leaves the page, and, for a call whose run it
  // cancelled, at once: only the latest call's lets go (the next call arms again if it did).
  return () => { if (ui.calls === call && ui.disarm) ui.disarm(); };
}
