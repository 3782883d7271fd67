// ESLint for the browser components (ui/components/*.js), run by tests/test_lint.py.
// Each component is several files joined into one module script (ui/components/__init__.py
// `source`), so a file may use what an earlier one of its component declares: those names are
// declared here as globals, per file.
import js from "@eslint/js";
import globals from "globals";

const FROM_NETS = { KERNELS_WASM: "readonly", fetchTensors: "readonly", loadNet: "readonly", run: "readonly",
  decode: "readonly", classify: "readonly", netFromBuffer: "readonly" };
const FROM_DOM = { el: "readonly", paintImage: "readonly", GRAY28: "readonly", dataOf: "readonly" };
const FROM_SHARED = { record: "readonly", expose: "readonly", loadMap: "readonly", place: "readonly" };
const FROM_MAP_DECODE = { mapIndex: "readonly", nearestPoints: "readonly", codeAt: "readonly" };
const FROM_MAP_DRAW = Object.fromEntries(["typed", "inkColor", "size", "wholeView", "zoomAt", "zoomBy", "resetView",
  "fitCanvases", "context", "redraw", "visible", "drawKey", "drawLattice", "savePicture", "shifted", "placeTicks",
  "draw", "viridis", "toPixel", "toMap"].map((name) => [name, "readonly"]));

export default [
  js.configs.recommended,
  {
    files: ["ui/components/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
    rules: {
      // Text from data goes in as textContent, never parsed as HTML or run as code.
      "no-eval": "error", "no-implied-eval": "error", "no-new-func": "error", "no-script-url": "error",
      "no-restricted-properties": ["error",
        ...["innerHTML", "outerHTML", "insertAdjacentHTML", "srcdoc", "createContextualFragment", "write", "writeln"]
          .map((property) => ({ property, message: "set text with textContent (or el)" }))],
      "no-restricted-globals": ["error", { name: "DOMParser", message: "no HTML from data" }],
      "no-restricted-syntax": ["error",
        { selector: "CallExpression[callee.property.name='setAttribute'][arguments.0.value=/^on/i]",
          message: "no inline event handlers" }],
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_" }],
      // A handler that grows past a screen is split into named steps (issue #22).
      "max-lines-per-function": ["error", { max: 60, skipComments: true, skipBlankLines: true }],
    },
  },
  { files: ["ui/components/nets.js"], languageOptions: { globals: { KERNELS_WASM: "readonly" } } },
  { files: ["ui/components/browser_fixes.js"], languageOptions: { globals: FROM_DOM } },
  { files: ["ui/components/shared.js"], languageOptions: { globals: FROM_NETS } },
  {
    files: ["ui/components/latent_map.js"],
    languageOptions: { globals: { ...FROM_DOM, ...FROM_NETS, ...FROM_SHARED, ...FROM_MAP_DECODE, ...FROM_MAP_DRAW } },
  },
  {
    files: ["ui/components/map_draw.js"],
    languageOptions: { globals: { ...FROM_DOM, ...FROM_NETS, ...FROM_SHARED, ...FROM_MAP_DECODE, button: "readonly" } },
  },
  {
    files: ["ui/components/latent_pad.js", "ui/components/sketchpad.js"],
    languageOptions: { globals: { ...FROM_DOM, ...FROM_NETS, ...FROM_SHARED, prepare: "readonly" } },
  },
];
