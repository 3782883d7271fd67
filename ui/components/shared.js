// Shared by the components that run networks: timings and test hooks on request, the map
// file each checkpoint serves (vae/services/export.py) and where a code lands on it. Prepended with nets.js.

const MAPS = new Map();  // map URL -> Promise<{mu, xy, labels, n, zDim, image}>
// Timings and test hooks only for a page that asks for them, by defining window.__latentPadProbe
// before the component loads (tests and benchmarks: bench/browser.py's PROBE_PAD); a user's tab
// keeps nothing.
export function record(name, ms) {
  const probe = window.__latentPadProbe;
  if (probe) (probe[name] = probe[name] || []).push(ms);
}
export function expose(name, fn) {
  if (window.__latentPadProbe) window.__latentPadProbe[name] = fn;
}

export function loadMap(url) {
  if (!MAPS.has(url)) {
    MAPS.set(url, fetchTensors(url).then((t) =>
      createImageBitmap(new Blob([t.map_png], { type: "image/png" })).then((image) => ({
        mu: t.mu, xy: t.xy, labels: t.labels, n: t.mu.shape[0], zDim: t.mu.shape[1], image,
      }))));
  }
  return MAPS.get(url);
}

// Where z lands on the map, as vae.analysis.projection.LatentMap.place: the distance-weighted mean of the
// map positions of its `neighbours` nearest test codes. Also the nearest one's index.
export function place(m, z, neighbours) {
  const K = Math.min(neighbours, m.n), D = m.zDim, mu = m.mu;
  const best = new Float64Array(K).fill(Infinity), idx = new Int32Array(K).fill(-1);
  for (let i = 0, base = 0; i < m.n; i++, base += D) {
    let s = 0;
    for (let j = 0; j < D; j++) { const d = mu[base + j] - z[j]; s += d * d; }
    if (s < best[K - 1]) {  // insert into the sorted top K
      let k = K - 1;
      while (k > 0 && best[k - 1] > s) { best[k] = best[k - 1]; idx[k] = idx[k - 1]; k--; }
      best[k] = s; idx[k] = i;
    }
  }
  let x = 0, y = 0, total = 0;
  for (let k = 0; k < K; k++) {
    const w = 1 / (Math.sqrt(best[k]) + 1e-6);
    x += w * m.xy[2 * idx[k]]; y += w * m.xy[2 * idx[k] + 1]; total += w;
  }
  return { x: x / total, y: y / total, nearest: idx[0], neighbours: Array.from(idx) };
}

