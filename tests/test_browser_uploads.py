"""The upload corpus (upload_corpus.py) through the real app in a real browser, on both pages that
take uploads: every file gets a clear message or a result, never an exception box, and the next
upload still works. Reconstruct gets the whole corpus; Interpolation, which reads uploads through
the same ui.uploads.upload_digit, one file of each outcome. Also: the upload size cap, and hostile
file and checkpoint names shown as text.

One page load per page, then file after file through the same uploader, so the uploader's and
the session's state carry from one file to the next as they do for a user.
"""
import http.client
import re
import shutil
import urllib.parse

import pytest

from bench.drawn import drawn_png
from tests.browser_support import ROOT, expect, open_page, require_browser, run_finished, settle, snap
from tests.upload_corpus import corpus
from vae.images import MAX_UPLOAD_BYTES, ImageError, mnist_style, read_upload

pytestmark = [pytest.mark.browser, pytest.mark.slow]
require_browser()

PROBLEMS = "[data-testid=stMain] :is([data-testid=stAlertContentError], [data-testid=stAlertContentWarning])"
# What each page shows for a usable upload.
PAGES = {"reconstruct": ("Reconstruct", "reconstruction from μ"),
         "interpolate": ("Interpolation", "linear, 10 steps")}
# Uploaded in this order, so that no two files in a row give the same page: each file's own
# outcome must appear before the next file goes up (the page never shows the previous one's).
ORDER = ["empty file", "palette PNG", "random bytes", "RGBA, transparent background", "text file named .png",
         "16-bit grayscale PNG", "truncated PNG", "CMYK JPEG", "decompression bomb (30000x30000 header)",
         "animated GIF (first frame)", "1x1 image", "EXIF-rotated JPEG", "all white", "8000x8000 photo",
         "SVG renamed .png", "all black", "HTML renamed .png"]
# Good files of three formats between messages of four kinds (empty, not an image, too large, no
# digit), alternating.
EACH_OUTCOME = ["empty file", "palette PNG", "random bytes", "EXIF-rotated JPEG",
                "decompression bomb (30000x30000 header)", "CMYK JPEG", "all white"]
ORDERS = {"reconstruct": ORDER, "interpolate": EACH_OUTCOME}
HOSTILE_NAMES = ["<img src=x onerror=alert(1)>.png",
                 "<script>window.__pwned=1;alert(1)</script>.png",
                 "<iframe srcdoc='<script>parent.__pwned=2</script>'>.png"]
# Anything the hostile names would have made, had they been parsed as HTML ("" when nothing).
INJECTED = """() => [
    ...[...document.querySelectorAll('img[src=x], img[src=y], iframe[srcdoc], b')].map(e => e.outerHTML),
    ...[...document.scripts].filter(s => s.text.includes('__pwned')).map(s => s.outerHTML),
    window.__pwned ? 'window.__pwned = ' + window.__pwned : ''].join(' ')"""


@pytest.fixture(scope="module")
def seven(mnist_test):
    return mnist_test.images[0].numpy()


@pytest.fixture
def dialogs(page):
    """Messages of any alert/confirm/prompt the page opens (none ever should)."""
    seen = []
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    return seen


def message_for(data: bytes) -> str | None:
    """What the app's own code says about these bytes: None for a usable digit."""
    try:
        mnist_style(read_upload(data))
    except ImageError as e:
        return str(e)
    return None


def upload(page, name: str, data: bytes, mime: str = "image/png") -> None:
    page.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def open_uploader(page, url: str, path: str) -> None:
    open_page(page, url, f"{path}?source=upload" if path == "reconstruct" else path, PAGES[path][0])
    if path == "interpolate":  # the start of the path comes from an upload
        page.locator("[data-testid=stRadio]").first.get_by_text("Upload", exact=True).click()
        settle(page)
    expect(page.locator("input[type=file]")).to_have_count(1)


def expect_result(page, path: str) -> None:
    expect(page.get_by_text(PAGES[path][1])).to_be_visible(timeout=60_000)
    expect(page.locator(PROBLEMS)).to_have_count(0)


def test_the_corpus_order_covers_it_and_never_repeats_an_outcome(seven):
    samples = corpus(seven)
    assert sorted(ORDER) == sorted(samples)
    for order in ORDERS.values():
        outcomes = [message_for(samples[name].data) for name in order] + [None]  # then a good digit
        assert all(a != b for a, b in zip(outcomes, outcomes[1:])), outcomes


@pytest.mark.parametrize("path", list(PAGES))
def test_every_corpus_file_gets_a_clear_message_or_a_result(server, page, dialogs, seven, path):
    url, _ = server
    open_uploader(page, url, path)
    samples = corpus(seven)
    for name in ORDERS[path]:
        sample = samples[name]
        print(f"uploading {name!r} ({sample.filename})")  # a failure's captured output names the file
        upload(page, sample.filename, sample.data, sample.mime)
        if sample.good:
            expect_result(page, path)
        else:
            expected = message_for(sample.data)
            assert expected and re.search(sample.message, expected), (name, expected)
            problem = page.locator(PROBLEMS)
            expect(problem).to_have_count(1, timeout=60_000)
            expect(problem).to_contain_text(expected)
            expect(page.get_by_text(PAGES[path][1])).to_have_count(0)
        run_finished(page)  # without an exception box
        if name == "8000x8000 photo":
            snap(page, f"upload-corpus-{path}-big-photo")
    upload(page, "seven.png", drawn_png(seven))  # and a plain upload still works afterwards
    expect_result(page, path)
    settle(page)
    snap(page, f"upload-corpus-{path}-after")
    assert not dialogs


def test_uploads_over_the_size_cap_are_refused(server, page, seven, tmp_path):
    """The browser refuses files over server.maxUploadSize before sending them, and says why;
    the server refuses them too (413) if a client sends one anyway. The last good upload stays."""
    url, _ = server
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(rf"^maxUploadSize = {MAX_UPLOAD_BYTES // 2**20}$", config, re.M)
    puts = []
    page.on("request", lambda r: puts.append(r) if r.method == "PUT" and "/_stcore/upload_file/" in r.url else None)
    open_uploader(page, url, "reconstruct")
    upload(page, "seven.png", drawn_png(seven))
    expect_result(page, "reconstruct")
    settle(page)
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as f:  # sparse: 21 MB on paper, nothing on disk
        f.truncate(MAX_UPLOAD_BYTES + 2**20)
    page.locator("input[type=file]").set_input_files(str(huge))
    chip = page.locator("[data-testid=stFileChip]", has_text="huge.png")
    expect(chip).to_contain_text("File must be 20.0MB or smaller.", timeout=30_000)
    # Issue #11: the page says so where it shows results, and the previous result is gone.
    message = page.locator("[data-testid=stMain] [data-testid=stAlertContentError]")
    expect(message).to_contain_text("huge.png is 22.0MB; the limit is 20 MB.", timeout=30_000)  # decimal MB
    expect(message).to_be_visible()
    settle(page)
    expect(page.get_by_text(PAGES["reconstruct"][1])).to_have_count(0)
    assert len(puts) == 1  # the big file never left the browser
    snap(page, "upload-over-the-cap")

    # The same request by hand, as a client that ignores the browser's check would send it.
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_streamlit_xsrf")
    target = urllib.parse.urlsplit(puts[0].url)  # the good upload's slot
    ok = put_upload(target, xsrf, drawn_png(seven))
    assert ok == 204  # a well-formed request, with a valid session and token
    assert put_upload(target, xsrf, bytes(MAX_UPLOAD_BYTES + 1024)) == 413
    assert put_upload(target, xsrf, bytes(MAX_UPLOAD_BYTES + 1024), chunked=True) == 413  # no Content-Length
    upload(page, "seven.png", drawn_png(seven))  # a good file afterwards: its result, and no message
    expect_result(page, "reconstruct")
    expect(message).to_have_count(0)


def put_upload(url, xsrf: str, data: bytes, chunked: bool = False) -> int:
    """PUT one file to Streamlit's upload endpoint as the uploader does; the response status."""
    boundary = "----upload-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"seven.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": xsrf,
               "Cookie": f"_streamlit_xsrf={xsrf}"}
    try:
        if chunked:
            pieces = (body[i:i + 2**20] for i in range(0, len(body), 2**20))
            conn.request("PUT", url.path, body=pieces, headers=headers, encode_chunked=True)
        else:
            conn.request("PUT", url.path, body=body, headers=headers)
        return conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError):  # the server may hang up before reading it all
        return conn.getresponse().status
    finally:
        conn.close()


def test_file_and_checkpoint_names_are_shown_as_text(server, page, dialogs, seven):
    """Names are user text: they must appear as text, never become elements or run script."""
    url, checkpoints = server
    shutil.copytree(checkpoints / "default", checkpoints / "<img src=x onerror=alert(2)>")
    broken = checkpoints / "<img src=y onerror=alert(3)>"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")

    open_uploader(page, url, "reconstruct")
    for name in HOSTILE_NAMES:
        upload(page, name, drawn_png(seven))
        chip = page.locator("[data-testid=stFileChip]").last
        expect(chip).to_have_attribute("aria-label", re.compile("^" + re.escape(name)))
        expect_result(page, "reconstruct")
        run_finished(page)
        assert page.evaluate(INJECTED) == "", name
    upload(page, "<b>not bold</b>.png", b"<html><body><img src=x onerror=alert(1)></body></html>")
    expect(page.locator(PROBLEMS)).to_contain_text("not an image", timeout=30_000)
    settle(page)
    assert page.evaluate(INJECTED) == ""

    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("1 folder(s) cannot be loaded").click()
    expect(sidebar.get_by_text("<img src=y onerror=alert(3)>: ", exact=False)).to_be_visible()
    sidebar.locator("[data-testid=stSelectbox]").click()
    option = page.get_by_role("option", name="<img src=x onerror=alert(2)>", exact=True)  # names only
    expect(option).to_be_visible()
    assert page.evaluate(INJECTED) == ""
    option.click()
    settle(page)
    expect(sidebar.get_by_role("combobox", name="Checkpoint")).to_have_value(
        "<img src=x onerror=alert(2)>")
    assert page.evaluate(INJECTED) == ""
    sidebar.get_by_role("link", name="Loss curves").click()  # shows the run's name and folder
    expect(page.get_by_role("heading", name="Loss curves")).to_be_visible(timeout=60_000)
    settle(page)
    expect(page.locator("[data-testid=stMain]")).to_contain_text("<img src=x onerror=alert(2)>")
    snap(page, "hostile-names")
    assert page.evaluate(INJECTED) == ""
    assert not dialogs


def test_a_click_on_the_chosen_source_keeps_the_uploader(server, tab, seven):
    """Issue #20: a second visit to Reconstruct opens on Upload (the session keeps the choice); a
    click on Upload there used to unselect it, which switched the page to drawing and took the
    uploader away from under the user."""
    url, _ = server
    open_uploader(tab, url, "reconstruct")
    choice = tab.locator("[data-testid=stButtonGroup]").get_by_text("Upload", exact=True)
    for _ in range(2):
        choice.click()
        settle(tab)
        expect(tab.locator("input[type=file]")).to_have_count(1)
        expect(tab).to_have_url(re.compile(r"[?&]source=upload"))
    upload(tab, "seven.png", drawn_png(seven))
    expect_result(tab, "reconstruct")
