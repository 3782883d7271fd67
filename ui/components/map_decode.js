// Decode anywhere on the latent map: the code a map position stands for, as
// vae/analysis/map_inverse.py works it out, fast enough for every pointer event. PCA's inverse is
// exact and linear; for UMAP and t-SNE, an inverse-distance-weighted mean of the codes of the
// nearest map points, found through a grid of buckets over the map.

const IDW_NEIGHBOURS = 8, IDW_POWER = 2, COINCIDENT = 1e-9;  // as map_inverse.py's

// Buckets of about three points each over the map's bounding box: {cell, cols, rows, x0, y0, start, order}.
export function mapIndex(xy) {
  const n = xy.length / 2;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2 * i]); x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]); y1 = Math.max(y1, xy[2 * i + 1]);
  }
  const cell = Math.max(Math.sqrt(((x1 - x0) * (y1 - y0) || 1) * 3 / Math.max(n, 1)), 1e-9);
  const cols = Math.min(1024, Math.floor((x1 - x0) / cell) + 1), rows = Math.min(1024, Math.floor((y1 - y0) / cell) + 1);
  const cellOf = (i) => Math.min(rows - 1, Math.floor((xy[2 * i + 1] - y0) / cell)) * cols
    + Math.min(cols - 1, Math.floor((xy[2 * i] - x0) / cell));
  const start = new Int32Array(cols * rows + 1), order = new Int32Array(n);
  for (let i = 0; i < n; i++) start[cellOf(i) + 1]++;
  for (let c = 0; c < cols * rows; c++) start[c + 1] += start[c];
  const fill = start.slice(0, cols * rows);
  for (let i = 0; i < n; i++) order[fill[cellOf(i)]++] = i;
  return { xy, n, cell, cols, rows, x0, y0, start, order };
}

function visitCell(ix, c, x, y, best, idx) {  // keep the k nearest so far, sorted
  const K = best.length;
  for (let j = ix.start[c]; j < ix.start[c + 1]; j++) {
    const i = ix.order[j], dx = ix.xy[2 * i] - x, dy = ix.xy[2 * i + 1] - y, s = dx * dx + dy * dy;
    if (s >= best[K - 1]) continue;
    let k = K - 1;
    while (k > 0 && best[k - 1] > s) { best[k] = best[k - 1]; idx[k] = idx[k - 1]; k--; }
    best[k] = s; idx[k] = i;
  }
}

// The k map points nearest (x, y), closest first: {idx, dist}. Rings of buckets outward from the
// one nearest (x, y), until no bucket left can hold a nearer point.
export function nearestPoints(ix, x, y, k) {
  const K = Math.min(k, ix.n), best = new Float64Array(K).fill(Infinity), idx = new Int32Array(K).fill(-1);
  const cx = Math.max(0, Math.min(ix.cols - 1, Math.floor((x - ix.x0) / ix.cell)));
  const cy = Math.max(0, Math.min(ix.rows - 1, Math.floor((y - ix.y0) / ix.cell)));
  const rings = Math.max(ix.cols, ix.rows);
  for (let r = 0; r <= rings; r++) {
    for (let j = Math.max(0, cy - r); j <= Math.min(ix.rows - 1, cy + r); j++) {
      if (j === cy - r || j === cy + r) {  // the ring's top and bottom rows, whole
        for (let i = Math.max(0, cx - r); i <= Math.min(ix.cols - 1, cx + r); i++) visitCell(ix, j * ix.cols + i, x, y, best, idx);
      } else {  // its two sides
        if (cx - r >= 0) visitCell(ix, j * ix.cols + cx - r, x, y, best, idx);
        if (r > 0 && cx + r < ix.cols) visitCell(ix, j * ix.cols + cx + r, x, y, best, idx);
      }
    }
    // Every bucket beyond ring r is at least r cells from (x, y) (or from its nearest point of the grid).
    if (best[K - 1] <= (r * ix.cell) ** 2) break;
  }
  return { idx, dist: best.map(Math.sqrt) };
}

// The code (x, y) stands for, and how far it is from the nearest real code's point in map gaps.
// inverse: {gap, mean, basis} (basis: 2 rows of zDim, PCA's exact inverse) or {gap} (interpolate).
export function codeAt(inverse, ix, mu, zDim, x, y) {
  const near = nearestPoints(ix, x, y, inverse.basis ? 1 : IDW_NEIGHBOURS), z = new Float32Array(zDim);
  if (inverse.basis) {
    for (let d = 0; d < zDim; d++) z[d] = inverse.mean[d] + x * inverse.basis[0][d] + y * inverse.basis[1][d];
  } else if (near.dist[0] <= COINCIDENT) {
    z.set(mu.subarray(near.idx[0] * zDim, (near.idx[0] + 1) * zDim));
  } else {
    let total = 0;
    near.idx.forEach((i, k) => {
      const w = 1 / near.dist[k] ** IDW_POWER;
      total += w;
      for (let d = 0; d < zDim; d++) z[d] += w * mu[i * zDim + d];
    });
    for (let d = 0; d < zDim; d++) z[d] /= total;
  }
  return { z, gaps: near.dist[0] / inverse.gap, nearest: near.idx[0] };
}
