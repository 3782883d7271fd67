// What every page needs in the browser (mounted once, in the sidebar), for plotly's charts:
//   - A tap selects the point under the finger. Plotly's click-to-select takes the point of the
//     last hover, and a finger hovers nothing before it taps: each tap selected the point of the
//     tap before (issue #20). A touch on a plot's drag layer first moves plotly's hover to it, as a
//     mouse arriving there would (plotly listens for mousemove on that layer).
//   - On a narrow screen plotly's toolbar (zoom, pan, download) is hidden: it covered the charts'
//     titles. Pinch and drag still zoom and pan; a double tap resets.
//   - /map opens the map at the app's root (mapAtRoot).
//   - Plotly's code is loaded a little after the first page is drawn, while the user looks at it. Streamlit
//     imports its plotly chunk (4.7 MB) only when a chart arrives, so the first chart of another page
//     waited for it; imported here, as Streamlit's index script would import it (the same URL, so the
//     same module), the next page finds it loaded. Not before: the first page (the map, drawn without
//     plotly) would wait for it, on 2 cores (BENCHMARKS.md section 6).

const NARROW = "@media (max-width: 640px) { .js-plotly-plot .modebar-container { display: none !important; } }";

function hoverWhereTouched(event) {
  const target = event.target;
  if (!(target instanceof Element) || !target.classList.contains("nsewdrag") || event.touches.length !== 1) return;
  const touch = event.touches[0];
  target.dispatchEvent(new MouseEvent("mousemove", { clientX: touch.clientX, clientY: touch.clientY,
                                                     bubbles: true, cancelable: true, view: window }));
}

function loadPlotly(chunk) {
  const index = document.querySelector('script[type="module"][src*="static/js/index."]');
  if (!/^PlotlyChart\.[\w-]+\.js$/.test(chunk || "") || !index) return;
  const url = new URL(chunk, index.src);
  if (url.origin !== location.origin) return;  // Streamlit's own files only: the app fetches nothing from elsewhere
  // Should this import fail, Streamlit's own import of the same URL fails as it would have alone.
  import(url.href).catch(() => {});
}

// The first script run finished, then 3 s more (its last elements drawn, the page in use), then the
// browser idle: plotly's code takes the main thread for about 0.8 s on 2 cores.
function whenFirstPageDrawn(then) {
  const done = () => document.querySelector("[data-testid=stApp][data-test-script-state=notRunning]");
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 1));  // Safari has none
  const wait = () => (done() ? setTimeout(() => idle(then, { timeout: 2000 }), 3000) : setTimeout(wait, 200));
  wait();
}

// /map, which people type, for the Latent map: the app's root is that page's only address (app.py).
// Replaced, not pushed, so that Back leaves /map rather than landing on it and coming back.
function mapAtRoot() {
  if (!/\/map\/?$/.test(location.pathname)) return false;
  location.replace(location.pathname.replace(/map\/?$/, "") + location.search + location.hash);
  return true;
}

export default function (component) {
  if (window.__browserFixes) return;  // one listener, one style and one early load for the whole tab
  window.__browserFixes = true;
  if (mapAtRoot()) return;
  const chunk = dataOf(component).plotly;
  whenFirstPageDrawn(() => loadPlotly(chunk));
  document.addEventListener("touchstart", hoverWhereTouched, { capture: true, passive: true });
  const style = document.createElement("style");
  style.textContent = NARROW;
  document.head.append(style);
}
