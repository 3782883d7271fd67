// Map overlay: what the latent map's plotly chart cannot show by itself, drawn over it in the browser.
//   - hover a point: a thumbnail of that digit beside the pointer, with its class and index
//   - the picked points, numbered in the order they were picked (1 is where an interpolation starts)
// The chart is found by its Streamlit key (`.st-key-<chart_key>`); plotly's hover events name the
// point (customdata: its index in the map's images). The images come once per map, on the first
// hover, from a gzipped uint8 file (N x 28 x 28). Every text is set with textContent.

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
  canvas.width = canvas.height = 28;
  canvas.setAttribute("data-testid", "map-hover-digit");
  const label = el("div", "tip-label");
  label.setAttribute("data-testid", "map-hover-label");
  tip.append(canvas, label);
  const marks = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  marks.setAttribute("class", "marks");
  marks.setAttribute("data-testid", "map-picks");
  root.append(tip, marks);
  return { tip, canvas, label, marks, gd: null, data: null };
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// The picked points, placed with plotly's own axes; redrawn on zoom, pan, resize and scroll.
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

function attach(ui) {
  const host = document.querySelector(`.st-key-${ui.data.chart_key} .js-plotly-plot`);
  if (!host || host === ui.gd || typeof host.on !== "function") return;
  ui.gd = host;
  host.on("plotly_hover", (e) => {
    const p = e.points && e.points[0];
    if (!p || p.customdata === undefined) return;
    const index = Number(p.customdata), pointer = e.event || {};
    ui.label.textContent = `${p.data.name} · #${index}`;
    const x = (pointer.clientX || 0), y = (pointer.clientY || 0);
    Object.assign(ui.tip.style, { display: "block", left: Math.max(4, x - 120) + "px",
                                  top: (y > 140 ? y - 130 : y + 20) + "px" });
    ui.hovered = index;
    loadImages(ui.data.images_url).then((images) => {
      if (ui.hovered === index) paintDigit(ui.canvas, images, 0, 1, index * 784);
    }).catch((err) => { ui.label.textContent = `${p.data.name} · #${index} (no image: ${err.message})`; });
  });
  host.on("plotly_unhover", () => { ui.hovered = null; ui.tip.style.display = "none"; });
  host.on("plotly_afterplot", () => drawMarks(ui));
  host.on("plotly_relayout", () => drawMarks(ui));
  drawMarks(ui);
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".map-overlay-root");
  if (!root) {
    root = el("div", "map-overlay-root");
    parentElement.append(root);
    root.__ui = build(root);
    const ui = root.__ui;
    const redraw = () => drawMarks(ui);
    window.addEventListener("scroll", redraw, { capture: true, passive: true });
    window.addEventListener("resize", redraw, { passive: true });
    // The chart is drawn before or after this element, and again whenever its figure changes.
    let pending = 0;
    ui.observer = new MutationObserver(() => {
      if (!pending) pending = requestAnimationFrame(() => { pending = 0; attach(ui); });
    });
    ui.observer.observe(document.body, { childList: true, subtree: true });
  }
  const ui = root.__ui;
  ui.data = data;
  attach(ui);
  drawMarks(ui);
}
