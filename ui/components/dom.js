// What every component draws with: elements made from text (textContent: nothing from data is ever
// parsed as HTML), and an image (28x28 gray, or any side, gray or RGB) painted on a canvas. Prepended to
// the components that draw.

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A component's data: the server sends it as one JSON string (ui/component_data.py).
export function dataOf(component) {
  return JSON.parse(component.data.json);
}

export const GRAY28 = { side: 28, channels: 1 };  // an image's shape: MNIST's

// The image at pixels[offset ...] (side * side * channels values, times `scale`: 255 for [0, 1], 1 for
// bytes) painted at x0 on `canvas`. Its values are channel after channel as the decoders write them
// (C, H, W), or with `interleaved` pixel after pixel as images are stored (H, W, C).
export function paintImage(canvas, pixels, { shape = GRAY28, x0 = 0, scale = 255, offset = 0, interleaved = false } = {}) {
  const { side, channels } = shape, n = side * side, ctx = canvas.getContext("2d"), img = ctx.createImageData(side, side);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const k = channels === 1 ? i : interleaved ? 3 * i + c : c * n + i;
      img.data[4 * i + c] = Math.round(pixels[offset + k] * scale);
    }
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x0, 0);
}
