"""Text helpers every page uses, with no Streamlit in them: user text shown as it is, shares that
never round to all or none, and numbers with a true minus sign."""
from __future__ import annotations

import html
import re


def share_text(fraction: float) -> str:
    """A share as a percentage that never rounds to all or none when it is not."""
    if 0 < fraction < 0.001:
        return "< 0.1%"
    if 0.999 < fraction < 1:
        return "> 99.9%"
    return f"{fraction:.1%}"


def signed(value: float, digits: int = 2) -> str:
    """A number written with the minus sign, −, as the pages write it, not Python's hyphen."""
    text = f"{value:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text.replace("-", "−")


def literal(text: str) -> str:
    """Markdown that shows `text` exactly as it is: a code span (its fence longer than any run of
    backticks inside). Text from users (folder names, file names, links, error messages) goes into
    st.markdown, st.error and the like only through this: never parsed as markdown or HTML."""
    text = str(text).replace("\n", " ")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def chart_text(text: str) -> str:
    """`text` for a plotly figure's names, titles and hover labels, shown as it is: plotly reads a subset
    of HTML there (<b>, <br>, <a href>), and of entities it decodes &lt;, &gt; and &amp; (not &quot;:
    quotes stay as they are). Text from users (a run's folder name) goes into a figure only through this."""
    return html.escape(str(text), quote=False)


def in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: "Class" -> "class", but "−ELBO", "KL" and "IWAE gap"
    keep their capitals (a label whose first letter is followed by a capital is an acronym)."""
    letters = [i for i, c in enumerate(label) if c.isalpha()]
    if len(letters) < 2 or not label[letters[1]].islower():
        return label
    i = letters[0]
    return label[:i] + label[i].lower() + label[i + 1:]
