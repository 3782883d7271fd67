// Upload guard: Streamlit's file uploader refuses a file over the size limit in the browser, marks
// its chip with a small red icon and keeps the previous file as the widget's value, so the page
// would go on showing the previous result. This watches the uploader (found by its Streamlit key)
// and tells Python which came last, a refused file or an accepted one: {kind, name, message, size}.

// The one place that reads Streamlit's own markup: the uploader's file chips as Streamlit 1.67
// renders them (ui/uploads.py GUARDED_STREAMLIT; tests/test_browser_uploads.py drives it in
// Chromium). A chip without the parts it knows is reported as "unreadable", loudly, not skipped.
const UPLOADER = {
  chips: (host) => host.querySelectorAll("[data-testid=stFileChip]"),
  read(chip) {
    const name = chip.querySelector("[data-testid=stFileChipName]");
    if (!name) return null;
    if (chip.getAttribute("aria-invalid") !== "true") return { kind: "accepted", name: name.textContent, message: "" };
    const alert = chip.querySelector("[role=alert]");
    return { kind: "refused", name: name.textContent, message: alert ? alert.textContent : "",
      size: chip.getAttribute("aria-label") };
  },
};

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".upload-guard-root");
  if (root) { root.__data = data; return; }
  root = document.createElement("div");
  root.className = "upload-guard-root";
  root.__data = data;
  parentElement.append(root);
  const seen = new WeakSet();
  const check = () => {
    const host = document.querySelector(`.st-key-${root.__data.uploader_key}`);
    if (!host) return;
    let latest = null;
    for (const chip of UPLOADER.chips(host)) {
      if (seen.has(chip)) continue;
      seen.add(chip);
      latest = UPLOADER.read(chip) || { kind: "unreadable", name: "", message: chip.textContent.slice(0, 200) };
    }
    // An accepted file matters only after a refused one (its message must go): an upload that
    // only ever succeeds causes no rerun of its own.
    if (latest && (latest.kind !== "accepted" || root.__reported === "refused")) {
      root.__reported = latest.kind;
      setStateValue("latest", latest);
    }
  };
  let pending = 0;
  new MutationObserver(() => {
    if (!pending) pending = requestAnimationFrame(() => { pending = 0; check(); });
  }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["aria-invalid"] });
  check();
}
