"""Ten browser sessions at once for 60 s against one server (bench/many_sessions.py's scenario):
sliders, map and upload in every session, and all ten pressing "Start training" together.

Asserted: no errors of any kind (exception boxes, images still broken on a settled page, page
and console errors, tracebacks through the project's code in the server log, timeouts), exactly
one training job, no session seeing another's state (the bench checks each map heading and upload
result against what that session did), every session using every page, and the server's memory
settling (read after a full garbage collection). Not asserted, printed (and in BENCHMARKS.md):
the release round trip under load against a single session (the issue's "p95 at most twice"),
which on a 2-core machine running ten software-rendered browsers measures the machine; and the
actions whose rerun Streamlit itself dropped (a race inside Streamlit 1.67, see
bench/app_user.StreamlitDropped and BENCHMARKS.md).

Under CI (CI=true) this must run: a missing Chromium or Playwright is an error there, not a skip.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.slow]

try:
    import playwright.async_api  # noqa: F401
except ImportError:  # pragma: no cover
    playwright = None
if playwright is None or not Path("/usr/bin/chromium").exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but Playwright or /usr/bin/chromium is missing: .ci/run installs them")
    pytest.skip("needs Playwright and Debian's chromium (apt-get install chromium)", allow_module_level=True)

from bench import many_sessions  # noqa: E402  (after the skip: it imports playwright)

SESSIONS, SECONDS = 10, 60

# How much the server's memory may grow over the second half of the load, read just after the
# bench makes the server run a full garbage collection and malloc_trim (server_probes.
# collect_garbage), at the middle of the load and at its end, all ten sessions still connected.
# Without that collection the reading mostly measures garbage: Streamlit's collection after every
# run is off (.streamlit/config.toml), so the heap saws between the interpreter's own collections by
# 30-90 MB; the raw second-half growth of 60 s runs was 5-79 MB, and a 300 s run showed it level
# (550-650 MB, lower at the end than at 90 s). After the collection the second half grew by 2, 14
# and 24 MB in three runs: what sessions whose first visit to a page falls in the second half still
# add (their widget state, media files, Streamlit's per-session message cache). A leak of what
# every action makes (a rerun's images, an upload, the 10,000-point map figure: 0.1-1 MB each,
# 50-150 actions in the second half) would pass 60 MB.
GROWTH_LIMIT_MB = 60


@pytest.fixture(scope="module")
def result():
    r = many_sessions.run(SESSIONS, SECONDS, baseline_releases=10, keep=ARTIFACTS)
    print("\n" + many_sessions.report(r))  # shown with -s, and kept in the log of a failure
    return r


def test_no_errors_in_any_session_or_in_the_server_log(result):
    assert not result.errors, f"{len(result.errors)} error(s):\n" + "\n".join(result.errors[:30])


def test_all_sessions_pressing_start_training_at_once_start_exactly_one_job(result):
    told = [s.training for s in result.sessions]
    # A session whose answer never showed because Streamlit dropped its rerun (see
    # app_user.StreamlitDropped) cannot say which answer it got; the processes and folders can.
    dropped = sum(s.dropped["start training"] for s in result.sessions)
    assert told.count("started") + told.count("busy") + dropped == SESSIONS, (told, dropped)
    assert told.count("started") == 1 or (told.count("started") == 0 and dropped), (told, dropped)
    assert len(result.training_processes) == 1, result.training_processes
    assert len(result.run_folders) == 1, result.run_folders
    # Every session's sidebar names that one run.
    assert {s.sidebar_run for s in result.sessions} == set(result.run_folders)


def test_every_session_used_every_page(result):
    for s in result.sessions:
        assert s.done["slider release"] >= 3 and s.done["map click"] >= 1 and s.done["upload"] >= 1, (
            f"session {s.index} did {dict(s.done)}")
    total = sum(s.done["slider release"] + s.done["map click"] + s.done["upload"] for s in result.sessions)
    assert total >= 5 * SESSIONS, total


def test_server_memory_settles(result):
    assert result.live_heap["growth_second_half"] < GROWTH_LIMIT_MB, (result.live_heap, result.rss)
