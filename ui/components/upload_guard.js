// Upload guard: Streamlit's file uploader refuses a file over the size limit in the browser, marks
// its chip with a small red icon and keeps the previous file as the widget's value, so the page
// would go on showing the previous result. This watches the uploader (found by its Streamlit key)
// and tells Python which came last, a refused file or an accepted one: {kind, name, message, size}.

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
    for (const chip of host.querySelectorAll("[data-testid=stFileChip]")) {
      if (seen.has(chip)) continue;
      seen.add(chip);
      const name = (chip.querySelector("[data-testid=stFileChipName]") || {}).textContent || "";
      if (chip.getAttribute("aria-invalid") === "true") {
        const alert = chip.querySelector("[role=alert]");
        latest = { kind: "refused", name, message: alert ? alert.textContent : "", size: chip.getAttribute("aria-label") };
      } else {
        latest = { kind: "accepted", name, message: "" };
      }
    }
    // An accepted file matters only after a refused one (its message must go): an upload that
    // only ever succeeds causes no rerun of its own.
    if (latest && (latest.kind === "refused" || root.__reported === "refused")) {
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
