"""What the project reads of Streamlit's internals, checked against the Streamlit installed: the
protobuf field numbers the benchmarks decode (bench/browser.py PROTOBUF_FIELDS) against Streamlit's
own descriptors, and the version whose uploader markup the upload guard reads (ui/uploads.py;
tests/test_browser_uploads.py drives the guard itself in Chromium), and how its index script
imports its plotly chunk, which the browser fixes import early (ui/browser_fixes.py)."""
import re
from pathlib import Path

import pytest
import streamlit
from google.protobuf import descriptor_pool
from streamlit.proto import BackMsg_pb2, ClientState_pb2, ForwardMsg_pb2  # noqa: F401 (they register the messages)

from bench.browser import PROTOBUF_FIELDS
from ui.browser_fixes import PLOTLY_CHUNK
from ui.uploads import GUARDED_STREAMLIT


@pytest.mark.parametrize("message,field", sorted(PROTOBUF_FIELDS))
def test_the_benchmarks_protobuf_fields_are_streamlits(message, field):
    descriptor = descriptor_pool.Default().FindMessageTypeByName(message)
    assert descriptor.fields_by_name[field].number == PROTOBUF_FIELDS[message, field]


def test_the_messages_nest_as_the_hook_reads_them():
    """ForwardMsg.metadata.run is a RunIdentity, and BackMsg.rerun_script a ClientState."""
    forward, back = ForwardMsg_pb2.ForwardMsg.DESCRIPTOR, BackMsg_pb2.BackMsg.DESCRIPTOR
    metadata = forward.fields_by_name["metadata"].message_type
    assert metadata.name == "ForwardMsgMetadata" and metadata.fields_by_name["run"].message_type.name == "RunIdentity"
    assert back.fields_by_name["rerun_script"].message_type.name == "ClientState"


def test_the_upload_guard_knows_this_streamlits_uploader():
    assert streamlit.__version__.startswith(GUARDED_STREAMLIT + "."), (
        f"Streamlit {streamlit.__version__}: check ui/components/upload_guard.js (UPLOADER) against its "
        f"file uploader, then GUARDED_STREAMLIT")


def test_the_plotly_chunk_loaded_early_is_the_one_streamlits_index_script_imports():
    """browser_fixes.js imports the chunk relative to the page's module script static/js/index.*.js,
    as that script's own lazy import does: the same URL, so one fetch and one module."""
    static = Path(streamlit.__file__).parent / "static"
    scripts = re.findall(r'<script type="module"[^>]* src="\./static/js/(index\.[^"]+\.js)"',
                         (static / "index.html").read_text())
    assert len(scripts) == 1 and PLOTLY_CHUNK is not None
    assert f"import(`./{PLOTLY_CHUNK}`)" in (static / "static" / "js" / scripts[0]).read_text()
