"""Many sessions at once: N browser sessions (Playwright contexts in one headless Chromium) use
the app together against one server, and nothing may break.

  1. One server with a private checkpoints folder (a copy of checkpoints/default) and a
     2,000-image training set, in a temporary folder.
  2. Baseline: a single session times --baseline slider releases on /sliders
     (browser.release_round_trip, which bench/interaction.py uses too: mouseup to the updated page,
     and mouseup to the server's rerun back), and uploads each test digit once to record what
     /reconstruct shows for it.
  3. Load: N sessions open /train at once, fill the form, and all press "Start training" at the
     same moment: exactly one training process may start, the others must be told a run is in
     progress. Then, for --seconds, each session loops through the app by its sidebar: three
     drag-and-release round trips on the /sliders latent pad, one click on a point of the /map
     page, one digit upload on /reconstruct; before each release and after each action it looks
     at the page for a moment (--think, as load tools model people; 0 for a stress test).

The simulated users are bench/app_user.py; the server's memory, CPU and training processes are
read by bench/server_probes.py.

Recorded: Streamlit exception boxes, images still broken once a page has settled, page errors,
console errors, tracebacks in the server log; a session seeing another's state (a map heading not
naming the point it clicked, an upload's neighbours not those of its digit; the sliders page shows
nothing the server computes from z since issue #4); the releases' times; what became of every
action's rerun (Streamlit 1.67 sometimes drops one: StreamlitDropped); training processes (sampled
from /proc every 0.25 s) and run folders; the server's resident memory every second, and after a
full garbage collection at the start, middle and end of the load; the CPU time of the server,
Chromium, the training job and everything else on the machine during the load.

    python -m bench.many_sessions [--sessions 10] [--seconds 60 | --rounds 2] [--baseline 20] [--think 2] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.app_user import NEIGHBOURS, UPLOAD_DIGITS, VIEWPORT, Session, digit_pngs
from bench.browser import (
    PAD_SLIDERS,
    Release,
    chromium_async,
    release_round_trip,
    streamlit_process,
    wait_idle_async,
)
from bench.common import ROOT, machine, median, percentile, table
from bench.server_probes import Sampler, collect_garbage, private_app, training_pids

# People look at what an action did before the next one; load tools model that as a think time
# (Locust's examples wait 1-5 s). 0 (--think 0) drives every session back to back instead.
THINK_SECONDS = 2.0


@dataclass
class Result:
    sessions: list[Session]
    baseline: list[Release]  # the single session's releases
    loaded: list[tuple[float, Release]]  # (perf_counter, release) from every session under load
    training_processes: dict[int, list[float]]
    run_folders: list[str]
    rss: dict  # MB: start, peak, end, mid, growth_second_half; the same of the anonymous part as anon_*
    server_tracebacks: list[str]  # tracebacks through the project's own files
    other_tracebacks: int  # tracebacks elsewhere (the websocket layer when a tab closes)
    seconds: float
    load_seconds: float
    cores: dict  # CPU cores busy on average during the load: server, browser, training, bench, others
    loop_seconds: float  # how long the sessions looped; the last actions end after it (load_seconds)
    rss_series: list[tuple[float, float, float]]  # (seconds from the start of the load, RSS, anonymous)
    load_started: float  # perf_counter at the start of the load
    live_heap: dict  # the server's heap just after a full collection (MB): start, mid, end, growth_second_half
    think: float  # mean seconds each user paused before each release and after each action
    probe: bool  # session 0 was a probe: sliders only, in a Chromium of its own; the others at nice 19

    @property
    def errors(self) -> list[str]:
        out = [f"session {s.index}: {e}" for s in self.sessions for e in s.errors]
        out += [f"session {s.index}: page error: {e}" for s in self.sessions for e in s.page_errors]
        out += [f"session {s.index}: console error: {e}" for s in self.sessions for e in s.console_errors]
        return out + [f"server: {t}" for t in self.server_tracebacks]

    def p(self, values: list[float], q: float) -> float:
        return percentile(values, q)


async def _drive(url: str, sessions: int, seconds: float, baseline_releases: int, think: float, probe: bool,
                 sampler: Sampler, hooks: Path, rounds: int = 0) -> tuple:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    live = {}  # the server's heap after a full collection (MB): start, mid, end of the load

    async def heap() -> float:
        return await collect_garbage(sampler.server_pid, hooks)

    pngs = digit_pngs(UPLOAD_DIGITS)
    async with contextlib.AsyncExitStack() as stack:
        browser = await stack.enter_async_context(chromium_async())
        # With a probe, the other sessions' browser runs at the lowest priority: standing in for
        # users on machines of their own, it takes only the CPU the server and the probe leave.
        crowd = await stack.enter_async_context(chromium_async(nice=19)) if probe else browser
        # Baseline: one session alone; its uploads also record what each digit's neighbours are.
        context = await browser.new_context(viewport=VIEWPORT)
        solo = Session(-1)
        await solo.attach(await context.new_page(), url)
        await solo.go(url, "sliders")
        slider = solo.page.locator(PAD_SLIDERS).nth(1)
        baseline = []
        for i in range(baseline_releases):
            baseline.append(await release_round_trip(solo.page, slider, 0.55 + 0.4 * ((i * 7919) % 97) / 97))
            await wait_idle_async(solo.page)
        expected = []
        solo.lost = True
        await solo.go(url, "reconstruct")
        # One page for all four (a page load saved per digit): each caption is told from the last by its text.
        for d, png in enumerate(pngs):
            await solo.page.locator("input[type=file]").set_input_files(
                files=[{"name": f"digit-{d}.png", "mimeType": "image/png", "buffer": png}])
            try:
                await solo.page.wait_for_function(
                    "([pattern, before]) => { const m = new RegExp(pattern).exec(document.body.innerText);"
                    " return m !== null && m[0] !== before; }",
                    arg=[NEIGHBOURS.pattern, expected[-1] if expected else None], timeout=60_000)
            except PlaywrightTimeout:
                shown = NEIGHBOURS.findall(await solo.page.inner_text("body"))
                raise RuntimeError(f"the single session's upload of test digit {d} showed no new neighbours in 60 s "
                                   f"(the page shows {shown[:1] or 'none'}; the digits before: {expected})") from None
            expected.append(NEIGHBOURS.search(await solo.page.inner_text("body")).group(0))
            await wait_idle_async(solo.page)
        if len(set(expected)) < len(expected):
            raise RuntimeError(f"two test digits have the same neighbours: {expected}")
        await solo.go(url, "map")  # builds nothing (the map ships with the model), but warms it
        await solo.check_no_exception("baseline")
        await context.close()
        if solo.errors or solo.page_errors or solo.console_errors:
            raise RuntimeError(f"the single session failed: {solo.errors + solo.page_errors + solo.console_errors}")

        # Load: N sessions open /train, then all press Start training at once.
        group = [Session(i, think=think) for i in range(sessions)]
        contexts = [await (browser if probe and s.index == 0 else crowd).new_context(viewport=VIEWPORT)
                    for s in group]
        for s, c in zip(group, contexts):
            await s.attach(await c.new_page(), url)
        await asyncio.gather(*(s.act("open train", lambda s=s: s.open_train_form(url)) for s in group))
        await asyncio.gather(*(s.act("start training", s.press_start) for s in group if s.done["open train"]))

        async def loop(s: Session, deadline: float) -> None:
            actions = [("slider visit", lambda k: s.sliders(url, k)), ("map click", lambda k: s.map_click(url, k)),
                       ("upload", lambda k: s.upload(url, k, pngs, expected))]
            step = s.index % 3  # sessions start at different pages, as people would
            if rounds:  # a fixed amount of work, however long the machine takes for it
                for _ in range(rounds * 3):
                    name, action = actions[step % 3]
                    await s.act(name, lambda action=action, step=step: action(step // 3))
                    step += 1
                    if step - s.index % 3 == rounds * 3 // 2:  # all wait for the heap's middle reading
                        halfway.append(s.index)
                        if len(halfway) == len(group):
                            live["mid"] = await heap()
                            resume.set()
                        await asyncio.wait_for(resume.wait(), 600)  # a session lost before halfway fails, not hangs
                return
            while time.perf_counter() < deadline:
                # The probe only drags sliders: enough releases for a p95, timed by a browser of its own.
                name, action = actions[0 if probe and s.index == 0 else step % 3]
                await s.act(name, lambda action=action, step=step: action(step // 3))
                await s.pause()
                step += 1
            # Past the deadline, an action this session has not done yet gets one try, so that
            # every session has used every page (a 2-core machine may fit only ~3 visits in 60 s).
            for name, action in actions:
                if not s.done[name] and not any(e.startswith(name) for e in s.errors):
                    await s.act(name, lambda action=action, step=step: action(step // 3))

        halfway, resume = [], asyncio.Event()  # with `rounds`: the sessions that have done half of them

        async def collect_midway(at: float) -> None:
            if rounds:
                return  # the last session to reach half its rounds collects
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            live["mid"] = await heap()

        live["start"] = await heap()
        cpu_start = sampler.cpu_snapshot()
        load_start = cpu_start["at"]
        await asyncio.gather(collect_midway(load_start + seconds / 2), *(loop(s, load_start + seconds) for s in group))
        cpu_end = sampler.cpu_snapshot()
        load_end = cpu_end["at"]
        live["end"] = await heap()
        await asyncio.gather(*(s.act("sidebar", s.read_sidebar_run) for s in group))
        for c in contexts:
            await c.close()
    return baseline, group, load_start, load_end, (cpu_start, cpu_end), live


def run(sessions: int = 10, seconds: float = 60, baseline_releases: int = 20, think: float = THINK_SECONDS,
        keep: Path | None = None, probe: bool = False, rounds: int = 0) -> Result:
    """The whole scenario; `keep` (a folder) keeps the server's log there; with `probe`, session 0
    only drags sliders, in a Chromium of its own, and the others' Chromium runs at nice 19. With
    `rounds` (an even number), each session visits each page exactly that many times instead of
    looping for `seconds`: the same work on any machine (tests/test_many_sessions.py), the heap's
    middle reading taken once every session has done half of it."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="many-sessions-") as tmp:
        tmp = Path(tmp)
        env, checkpoints = private_app(tmp)
        log = tmp / "streamlit.log"
        with streamlit_process(env, log=log) as (url, _, proc):
            sampler = Sampler(proc.pid, checkpoints)
            sampler.start()
            try:
                baseline, group, load_start, load_end, cpu, live = asyncio.run(
                    _drive(url, sessions, seconds, baseline_releases, think, probe, sampler, tmp / "hooks", rounds))
                time.sleep(1.0)  # one more RSS sample after the last action
            finally:
                sampler.stop()
            # Let a training run still going finish or be stopped before the folder goes.
            for pid in training_pids(checkpoints):
                try:
                    os.kill(pid, 15)
                except OSError:
                    pass
        text = log.read_text(errors="replace")
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, keep / "many-sessions-streamlit.log")
        runs = sorted(p.name for p in checkpoints.iterdir() if p.name.startswith("run-"))

    ours, others, block = [], 0, []
    for line in text.splitlines() + [""]:  # split the log into traceback blocks
        if line.startswith("Traceback") or (block and (line.startswith(" ") or line.startswith("\t"))):
            block.append(line)
            continue
        if block:
            block.append(line)
            mine = any(ln.strip().startswith(f'File "{ROOT}/') and "/.venv" not in ln and "site-packages" not in ln
                       for ln in block)
            if mine:
                ours.append("\n".join(block)[-1500:])
            else:
                others += 1
            block = []

    mid = (load_start + load_end) / 2
    rss = {}
    for prefix, anonymous in (("", False), ("anon_", True)):
        def around(t: float, anonymous: bool = anonymous) -> float:  # median of the samples within 1.5 s of t
            return median(sampler.rss_between(t - 1.5, t + 1.5, anonymous) or [float("nan")])

        during = sampler.rss_between(load_start, load_end + 1.5, anonymous)
        rss.update({prefix + "start": around(load_start), prefix + "peak": max(during) if during else float("nan"),
                    prefix + "end": around(load_end + 1.0), prefix + "mid": around(mid)})
        rss[prefix + "growth_second_half"] = rss[prefix + "end"] - rss[prefix + "mid"]
    loaded = sorted((trip for s in group for trip in s.trips), key=lambda trip: trip[0])
    start, end = cpu
    wall = end["at"] - start["at"]
    cores = {"server": end["server"] - start["server"],
             "browser": sum(v - start["browser"].get(pid, 0.0) for pid, v in end["browser"].items()),
             "training": end["training"] - start["training"], "bench": end["self"] - start["self"],
             "machine": end["machine"] - start["machine"]}
    cores["others"] = cores["machine"] - sum(v for k, v in cores.items() if k != "machine")
    cores = {k: max(0.0, v) / wall for k, v in cores.items()}
    return Result(group, baseline, loaded, sampler.training, runs, rss, ours, others,
                  time.perf_counter() - began, load_end - load_start,
                  cores, load_end - load_start if rounds else seconds,
                  [(t - load_start, mb, anon) for t, mb, anon in sampler.rss], load_start,
                  {**live, "growth_second_half": live["end"] - live["mid"]}, think, probe)


def report(r: Result) -> str:
    n = len(r.sessions)
    loaded = [rel for _, rel in r.loaded]
    # The target's figure: every session's releases, or with a probe, the probe's alone.
    measured = r.sessions[:1] if r.probe else r.sessions
    label = f"the probe, {n - 1} other sessions at once" if r.probe else f"{n} sessions at once"
    trips = [(t, rel) for s in measured for t, rel in s.trips]
    groups = [("single session", r.baseline), (label, [rel for _, rel in trips])]
    during = [rel for t, rel in trips if any(first - 0.25 <= t <= last + 0.25
                                             for first, last in r.training_processes.values())]
    if len(during) >= 3:
        groups.append((f"{label}, while the training job ran", during))
    if r.probe:
        groups.append((f"the {n - 1} other sessions (their browser at nice 19)",
                       [rel for s in r.sessions[1:] for _, rel in s.trips]))
    single_p95 = {}
    rows = []
    for measure, attr in (("updated page", "updated_ms"), ("server's rerun back", "rerun_ms"),
                          ("z sent to the server", "sent_ms")):
        for label, releases in groups:
            values = [getattr(rel, attr) for rel in releases if getattr(rel, attr) is not None]
            p95 = percentile(values, 0.95)
            if label == "single session":
                single_p95[attr], ratio = p95, "-"
            else:
                ratio = f"{p95 / single_p95[attr]:.2f}x" if values and single_p95.get(attr) else "-"
            rows.append([f"to {measure}: {label}", len(values), percentile(values, 0.5), p95, ratio])
    trips = table(["mouseup (browser.release_round_trip)", "releases", "p50 (ms)", "p95 (ms)",
                   "p95 vs single (target <= 2x)"], rows)
    fates = Counter(rel.rerun_fate for rel in loaded)
    single_fates = Counter(rel.rerun_fate for rel in r.baseline)

    def spread(name: str) -> str:
        counts = [s.done[name] for s in r.sessions]
        took = [t for s in r.sessions for t in s.seconds.get(name, [])]
        each = f"; median {median(took):.1f} s each" if took else ""
        return f"{min(counts)} .. {max(counts)} (total {sum(counts)}{each})"

    kinds = Counter()
    for s in r.sessions:
        kinds["exception boxes"] += sum("exception box" in e for e in s.errors)
        kinds["broken images"] += sum("broken image" in e for e in s.errors)
        kinds["other session failures"] += sum("exception box" not in e and "broken image" not in e for e in s.errors)
        kinds["stale media"] += s.stale_media
        kinds["ignored"] += s.ignored_console
        kinds["page errors"] += len(s.page_errors)
        kinds["console errors"] += len(s.console_errors)
    told = Counter(s.training for s in r.sessions)
    runs_seen = {s.sidebar_run for s in r.sessions}
    facts = table(["measure", "value"], [
        ["sessions x seconds of load", f"{n} x {r.loop_seconds:.0f} s (the last action ended at "
                                       f"{r.load_seconds:.0f} s); think time {r.think:g} s"],
        ["per session, min .. max: /sliders visits (3 releases each)", spread("slider visit")],
        ["per session: slider releases", spread("slider release")],
        ["per session: map clicks (page opening included)", spread("map click")],
        ["per session: uploads (page opening included)", spread("upload")],
        ["errors: exception boxes / broken images / page errors / console errors / other failures",
         f"{kinds['exception boxes']} / {kinds['broken images']} / {kinds['page errors']} / "
         f"{kinds['console errors']} / {kinds['other session failures']}"],
        ["not errors: 404s for images already superseded / offline font and base-path probes",
         f"{kinds['stale media']} / {kinds['ignored']}"],
        ["reruns Streamlit dropped (not errors): releases, whole / end only: single; under load",
         f"{single_fates['dropped']} / {single_fates['lost-end']}; {fates['dropped']} / {fates['lost-end']}"],
        ["reruns Streamlit dropped (not errors), under load: map clicks / uploads / Start training",
         " / ".join(str(sum(s.dropped[a] for s in r.sessions)) for a in ("map click", "upload", "start training"))],
        ["server tracebacks through the project's code (other tracebacks)",
         f"{len(r.server_tracebacks)} ({r.other_tracebacks})"],
        ["Start training pressed at once: started / told a run is in progress / answer dropped",
         f"{told['started']} / {told['busy']} / {sum(s.dropped['start training'] for s in r.sessions)} (of {n})"],
        ["training processes seen / run folders / runs named in the sidebars",
         f"{len(r.training_processes)} / {len(r.run_folders)} / {len(runs_seen - {''})}"],
        ["training job ran for", " ".join(f"{last - first:.1f} s" for first, last in r.training_processes.values())
         or "-"],
        ["server RSS (MB): load start / peak / end; growth over the second half",
         f"{r.rss['start']:.0f} / {r.rss['peak']:.0f} / {r.rss['end']:.0f}; {r.rss['growth_second_half']:+.1f}"],
        ["of which anonymous (the heap), same figures",
         f"{r.rss['anon_start']:.0f} / {r.rss['anon_peak']:.0f} / {r.rss['anon_end']:.0f}; "
         f"{r.rss['anon_growth_second_half']:+.1f}"],
        ["heap just after a full collection (MB): load start / middle / end; growth over the second half",
         f"{r.live_heap['start']:.0f} / {r.live_heap['mid']:.0f} / {r.live_heap['end']:.0f}; "
         f"{r.live_heap['growth_second_half']:+.1f}"],
        ["CPU cores used during the load: server / Chromium / training / bench / rest of machine",
         " / ".join(f"{r.cores[k]:.2f}" for k in
                                                      ("server", "browser", "training", "bench", "others"))],
        ["whole run, wall clock", f"{r.seconds:.0f} s"],
    ])
    return trips + "\n\n" + facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline", type=int, default=20, help="single-session release round trips")
    parser.add_argument("--think", type=float, default=THINK_SECONDS,
                        help="mean seconds a user looks at the page before each release and after each action "
                             "(uniform, 0.5 to 1.5 times it); 0: back to back, a stress test")
    parser.add_argument("--keep-log", type=Path, help="copy the server's log and the RSS samples into this folder")
    parser.add_argument("--probe", action="store_true",
                        help="session 0 only drags sliders, timed in a Chromium of its own; the other sessions' "
                             "Chromium runs at nice 19, standing in for users on machines of their own")
    parser.add_argument("--rounds", type=int, default=0,
                        help="each session visits each page this many times (even), instead of looping for --seconds")
    parser.add_argument("--quick", action="store_true", help="3 sessions for 10 s, 5 baseline releases")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds, args.baseline = 3, 10, 5
    if args.rounds % 2:
        parser.error("--rounds must be even (the heap is read after half of them)")
    r = run(args.sessions, args.seconds, args.baseline, args.think, keep=args.keep_log, probe=args.probe,
            rounds=args.rounds)
    if args.keep_log:
        (args.keep_log / "many-sessions-rss.csv").write_text(
            "seconds_from_load_start,rss_mb,anonymous_mb\n"
            + "".join(f"{t:.2f},{mb:.1f},{anon:.1f}\n" for t, mb, anon in r.rss_series))
        (args.keep_log / "many-sessions-releases.csv").write_text(
            "seconds_from_load_start,updated_ms,sent_ms,rerun_ms,rerun_fate\n"
            + "".join(f"{t - r.load_started:.2f},{rel.updated_ms},{rel.sent_ms},{rel.rerun_ms},{rel.rerun_fate}\n"
                      for t, rel in r.loaded)
            + "".join(f"single,{rel.updated_ms},{rel.sent_ms},{rel.rerun_ms},{rel.rerun_fate}\n" for rel in r.baseline))
    browsers = (f"two headless Chromiums: session 0, the probe, in one; the other {args.sessions - 1} sessions in the "
                "other, at nice 19" if args.probe else f"one headless Chromium, {args.sessions} Playwright contexts")
    print(f"machine: {machine()}\nbrowser: {browsers} (async API); server with a private checkpoints folder "
          f"and a 2,000-image training set\n")
    print(report(r))
    errors = r.errors
    if errors:
        print(f"\n{len(errors)} error(s), the first 20:")
        for e in errors[:20]:
            print("  " + e.replace("\n", "\n    "))


if __name__ == "__main__":
    main()
