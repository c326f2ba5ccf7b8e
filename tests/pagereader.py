"""Reading convcalc's HTML pages back in tests, with the standard library's parser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any


class Page(HTMLParser):
    """The facts a test checks: the totals by key, each row's numbers, the links, the
    elements and the data block."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.totals: dict[str, str] = {}
        self.rows: dict[str, list[int]] = {}  # row id -> its data-value cells in order
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.data = ""
        self._row: str | None = None
        self._in_data = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        self.tags.append((tag, values))
        if "id" in values:
            self.ids.add(values["id"])
        if "data-key" in values:
            self.totals[values["data-key"]] = values.get("data-value", "")
        if tag == "tr" and values.get("id", "").startswith("row-"):
            self._row = values["id"]
            self.rows[self._row] = []
        if tag == "td" and self._row and "data-value" in values:
            self.rows[self._row].append(int(values["data-value"]))
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        self._in_data = tag == "script" and values.get("type") == "application/json"

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag == "script":
            self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data += data

    def document(self) -> Any:
        return json.loads(self.data)


def charts(text: str) -> list[str]:
    """Each inline chart as a standalone SVG document."""
    return [fragment.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
            for fragment in re.findall(r'<svg class="chart".*?</svg>', text, re.DOTALL)]
