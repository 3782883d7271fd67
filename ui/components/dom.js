// What every component draws with: elements made from text (textContent: nothing from data is ever
// parsed as HTML), and a 28x28 gray image painted on a canvas. Prepended to the components that draw.

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// `pixels[offset ...]` (784 values, times `scale`: 255 for [0, 1], 1 for bytes) at x0 on `canvas`.
export function paintDigit(canvas, pixels, x0 = 0, scale = 255, offset = 0) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(pixels[offset + i] * scale);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, x0, 0);
}
