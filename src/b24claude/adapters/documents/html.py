"""HTML through selectolax (Lexbor): headings open sections, block elements become paragraphs."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from b24claude.ports.knowledge import Section

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = frozenset({"p", "li", "td", "th", "pre", "blockquote", "dt", "dd", "figcaption", "caption", "div"})
_DROP = ["script", "style", "noscript", "template", "nav", "header", "footer", "svg"]
# Text a reader of the page never sees is not knowledge, and is where an injected instruction hides.
_INVISIBLE_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])",
    re.IGNORECASE,
)


def _drop_invisible(root: LexborNode) -> None:
    hidden = [
        node
        for node in root.traverse(include_text=False)
        if "hidden" in node.attributes
        or (node.attributes.get("aria-hidden") or "").lower() == "true"
        or _INVISIBLE_STYLE.search(node.attributes.get("style") or "")
    ]
    for node in hidden:
        node.decompose()


def _inside_block(node: LexborNode) -> bool:
    """Inside another block whose text is taken whole. A ``div`` holding a block is a wrapper, never
    taken whole (see below), so it does not count: ``<div><p>…</p></div>`` keeps its paragraph."""
    parent = node.parent
    while parent is not None:
        if (parent.tag in _BLOCKS and parent.tag != "div") or parent.tag in _HEADINGS:
            return True
        parent = parent.parent
    return False


def html_sections(html: str) -> tuple[str, list[Section]]:
    """The page title and its sections."""
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    tree.strip_tags(_DROP)
    root = tree.body or tree.root
    path: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    sections: list[Section] = []

    def flush() -> None:
        body = "\n".join(paragraphs).strip()
        paragraphs.clear()
        if body:
            sections.append(Section(headings=tuple(t for _, t in path), text=body))

    if root is None:
        return title, []
    _drop_invisible(root)
    for node in root.traverse(include_text=False):
        tag = node.tag or ""
        if tag in _HEADINGS:
            flush()
            level = _HEADINGS[tag]
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, " ".join(node.text(separator=" ").split())))
        elif tag in _BLOCKS and not _inside_block(node):
            if tag == "div" and any(
                inner.mem_id != node.mem_id for inner in node.css(",".join(sorted(_BLOCKS | set(_HEADINGS))))
            ):
                continue  # a wrapper: its blocks come on their own (css() matches the node itself too)
            text = " ".join(node.text(separator=" ").split())
            if text:
                paragraphs.append(text)
    flush()
    return title, sections
