"""What a browser component (ui/components/*.js) is sent: its `data` as one JSON string, which its
script reads with dom.js's `dataOf`.

Why a string: Streamlit checks every value of a `data` dict for a dataframe, and that check imports
pandas and pyarrow, 0.3 s of the first page's first run (BENCHMARKS.md section 6), for a dict of lists
and numbers. A string it sends as it is.
"""
from __future__ import annotations

import json


def as_data(payload: dict) -> dict:
    """`payload` (JSON-serializable) as a component's `data`."""
    return {"json": json.dumps(payload)}


def payload_of(data: dict) -> dict:
    """What as_data was given (for tests that read what a component was sent)."""
    return json.loads(data["json"])
