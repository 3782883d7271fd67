// A picture of one digit -> the 28x28 input the model sees, exactly as vae/images.py's mnist_style
// prepares an upload (MNIST's own recipe): grayscale, dark-on-light inverted, cropped to the ink,
// fitted into 20x20 with Pillow's Lanczos resampling (ported below, 8-bit fixed point and all), and
// centred by centre of mass in 28x28; or as the dataset's framing (vae.images.FRAMINGS, sent by
// Python) says: Fashion-MNIST's garments fill 28x28 and sit by their box. Prepended to the
// components that prepare drawings.
const PRECISION_BITS = 32 - 8 - 2;  // Pillow's fixed point for 8-bit images

// Python's round() of a float: halves to even.
function roundHalfEven(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

function lanczos(x) {  // Pillow's lanczos_filter: sinc(x) sinc(x / 3) on [-3, 3)
  const sinc = (v) => (v === 0 ? 1 : Math.sin(v * Math.PI) / (v * Math.PI));
  return (-3 <= x && x < 3) ? sinc(x) * sinc(x / 3) : 0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis: [{xmin, k: Int32Array}] per output pixel.
function coefficients(inSize, outSize) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = 3 * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale, ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) { w[x] = lanczos((x + xmin - center + 0.5) * ss); ww += w[x]; }
    const k = new Int32Array(xmax);
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
    }
    out.push({ xmin, k });
  }
  return out;
}

function clip8(sum) {
  const v = Math.floor(sum / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// Image.resize((outW, outH), LANCZOS) of an 8-bit image (Uint8Array, row-major): horizontal pass, then vertical.
function resizeLanczos(pixels, w, h, outW, outH) {
  let src = pixels, width = w;
  if (outW !== w) {
    const cs = coefficients(w, outW), tmp = new Uint8Array(outW * h);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const { xmin, k } = cs[xx];
        let ss = 1 << (PRECISION_BITS - 1);
        for (let x = 0; x < k.length; x++) ss += pixels[y * w + x + xmin] * k[x];
        tmp[y * outW + xx] = clip8(ss);
      }
    }
    src = tmp; width = outW;
  }
  if (outH === h) return src;
  const cs = coefficients(h, outH), out = new Uint8Array(width * outH);
  for (let yy = 0; yy < outH; yy++) {
    const { xmin: ymin, k } = cs[yy];
    for (let x = 0; x < width; x++) {
      let ss = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < k.length; y++) ss += src[(y + ymin) * width + x] * k[y];
      out[yy * width + x] = clip8(ss);
    }
  }
  return out;
}

let SCRATCH = null;  // {gray, ink}: reused from one movement to the next (fresh ones cost the pen's frame a GC)

function scratch(n) {
  if (!SCRATCH || SCRATCH.gray.length !== n) SCRATCH = { gray: new Float64Array(n), ink: new Float64Array(n) };
  return SCRATCH;
}

function grayOnWhite(rgba, n, gray) {  // composited on white, then Pillow's RGB -> L, in [0, 1]
  for (let i = 0, o = 0; i < n; i++, o += 4) {
    let r = rgba[o], g = rgba[o + 1], b = rgba[o + 2];
    const alpha = rgba[o + 3];
    if (alpha !== 255) {
      const a = alpha / 255;
      r = Math.round(r * a + 255 * (1 - a)); g = Math.round(g * a + 255 * (1 - a)); b = Math.round(b * a + 255 * (1 - a));
    }
    gray[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255;
  }
}

function borderMedian(gray, w, h) {  // the background's shade: the median of the picture's edge
  const border = new Float64Array(2 * (w + h));
  for (let x = 0; x < w; x++) { border[x] = gray[x]; border[w + x] = gray[(h - 1) * w + x]; }
  for (let y = 0; y < h; y++) { border[2 * w + y] = gray[y * w]; border[2 * w + h + y] = gray[y * w + w - 1]; }
  border.sort();
  const mid = border.length >> 1;
  return border.length % 2 ? border[mid] : (border[mid - 1] + border[mid]) / 2;
}

function inkBox(ink, w, h, peak, trim) {  // ink scaled to its peak; the box of what is above `trim`
  let top = h, bottom = -1, left = w, right = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w; x < w; x++, i++) {
      if (ink[i] === 0) continue;  // most of the board: no ink, nothing to scale
      ink[i] /= peak;
      if (ink[i] > trim) {
        if (y < top) top = y;
        bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return { top, left, ch: bottom - top + 1, cw: right - left + 1 };
}

function placement(fitted, nw, nh, centre, side) {  // where the fitted object goes in the side x side field
  if (centre !== "mass") return [(side - nh) >> 1, (side - nw) >> 1];  // "box": the object's box in the middle
  let mass = 0, cy = 0, cx = 0;
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) {
      const v = fitted[y * nw + x] / 255;
      mass += v; cy += v * y; cx += v * x;
    }
  }
  cy /= mass; cx /= mass;
  return [Math.min(Math.max(roundHalfEven(side / 2 - cy), 0), side - nh),  // MNIST's centre of mass at (14, 14)
    Math.min(Math.max(roundHalfEven(side / 2 - cx), 0), side - nw)];
}

// RGBA pixels (an ImageData's data) of a w x h picture -> Float32Array(side * side) in [0, 1], or null when
// there is nothing drawn (blank, or almost no contrast): mnist_style's steps, one for one.
// framing: {box, centre: "mass" or "box", trim, side}, as vae.images.Framing.
export function prepare(rgba, w, h, framing) {
  const { gray, ink } = scratch(w * h);
  grayOnWhite(rgba, w * h, gray);
  const background = borderMedian(gray, w, h);
  let peak = 0;
  for (let i = 0; i < w * h; i++) {
    ink[i] = Math.max(0, background < 0.5 ? gray[i] - background : background - gray[i]);
    if (ink[i] > peak) peak = ink[i];
  }
  if (peak < 0.1) return null;
  const { top, left, ch, cw } = inkBox(ink, w, h, peak, framing.trim);
  const crop = new Uint8Array(cw * ch);  // (ink * 255).astype(np.uint8): truncated
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) crop[y * cw + x] = Math.trunc(ink[(y + top) * w + x + left] * 255);
  }
  const scale = framing.box / Math.max(ch, cw);
  const nw = Math.max(1, roundHalfEven(cw * scale)), nh = Math.max(1, roundHalfEven(ch * scale));
  const fitted = resizeLanczos(crop, cw, ch, nw, nh);
  const side = framing.side;
  const [oy, ox] = placement(fitted, nw, nh, framing.centre, side);
  const field = new Float32Array(side * side);
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) field[(y + oy) * side + x + ox] = fitted[y * nw + x] / 255;
  }
  return field;
}
