"""The HTML report: one self-contained page, offline, with no script at all.

Everything is in the file: the style sheet (allowed by its hash in a strict
Content-Security-Policy that forbids scripts, fonts, images and connections), the charts as
inline SVG, and the summary's JSON document as an inert data block. Every number shown is
the JSON's, with the exact value in a ``data-value`` attribute; every text from the spec
is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from convcalc import __version__
from convcalc.arith import Status, format_fraction
from convcalc.counting import Counted
from convcalc.design import Change
from convcalc.memory import DEFINITIONS, Memory, Step
from convcalc.render import charts
from convcalc.render.json_ import summary as summary_json
from convcalc.render.markup import xml
from convcalc.report import CONVENTIONS, Report, Row
from convcalc.units import format_bytes

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;
max-width:1240px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:30px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
p.sub{margin:2px 0;color:#555}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:2px 9px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
td.n,th.n{text-align:right}tr.lossy td,tr.invalid td{background:#fde2e2}
tr.harmless td{background:#fff5d1}tr.block td{font-weight:600}tr:target td{background:#dcebf7}
li:target{background:#dcebf7}.error{color:#b00020}.warning{color:#8a5a00}.info{color:#555}
.chart{display:block;width:100%;height:auto;max-width:960px;background:#fafafa}
.axis{stroke:#999}.tick{font-size:11px;fill:#555}.bar{fill:#4e79a7}a:hover .bar{fill:#e15759}
.curve{fill:none;stroke:#4e79a7;stroke-width:1.5}.dot{fill:#4e79a7;stroke:none}
.curve.rf1{stroke:#f28e2b}.dot.rf1{fill:#f28e2b}.curve.rf2{stroke:#59a14f}
.dot.rf2{fill:#59a14f}.peak{fill:#e15759}
.hover{fill:transparent}.hover:hover{fill:rgba(78,121,167,.12)}
.limit{stroke:#999;stroke-dasharray:5 4}.pair{display:grid;grid-template-columns:1fr 1fr;
gap:24px}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}
footer{margin-top:36px;color:#666;font-size:12px}code{font-size:13px}
"""
CSP = ("default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; script-src 'none'; "
       "base-uri 'none'; form-action 'none'")


def _policy() -> str:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
    return CSP.format(hash=digest)


_UNSAFE = re.compile(r"[<>&]|[^\n\x20-\x7e]")


def _escape_json(match: re.Match[str]) -> str:
    char = match.group()
    if char not in "<>&" and char.isprintable():
        return char
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _inert(data: str) -> str:
    """JSON text that cannot end its script element or hide in an editor: ``<``, ``>``,
    ``&`` and every invisible character as ``\\u`` escapes (the JSON is unchanged)."""
    return _UNSAFE.sub(_escape_json, data)


def page(title: str, body: list[str], data: str | None = None) -> str:
    """A whole document; ``data`` (JSON) is carried as an inert block for programs."""
    block = [] if data is None else [
        f'<script type="application/json" id="convcalc-json">{_inert(data)}</script>']
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_policy()}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{xml(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
        *body, *block,
        f"<footer>Written by convcalc {xml(__version__)}. This page has no script and loads "
        "nothing: it is complete offline and with JavaScript disabled. Hover a column for its "
        "exact value; click it for its row.</footer>", "</body>", "</html>", ""])


def _n(value: int, key: str = "") -> str:
    named = f' data-key="{key}"' if key else ""
    return f'<td class="n"{named} data-value="{value}">{value:,}</td>'


@dataclass(frozen=True)
class Extra:
    """What a summary page adds to the report: memory models, counting and liveness."""

    memory: Memory | None = None
    counted: Counted | None = None
    steps: tuple[Step, ...] = ()


def _header(report: Report, counted: Counted | None) -> list[str]:
    settings = report.settings
    counting = counted.convention.name if counted else "macs"
    return [f"<h1>{xml(report.name)}</h1>",
            *([f'<p class="sub">{xml(report.source)}</p>'] if report.source else []),
            f'<p class="sub">spec <code>{xml(report.path)}</code>; input '
            f"{report.input_shape}, batch {settings.batch}, {xml(settings.dtype)} "
            f"({settings.dtype_bytes} B per element); counting: {xml(counting)}</p>"]


def _totals(report: Report, extra: Extra) -> list[str]:
    totals, settings = report.totals, report.settings

    def line(key: str, label: str, value: int, note: str) -> str:
        return (f'<tr><th>{xml(label)}</th><td class="n" data-key="{key}" data-value="{value}">'
                f"{value:,}</td><td>{xml(note)}</td></tr>")

    rows = [
        line("totals.params", "params", totals.params, f"trainable = "
             f"{format_bytes(totals.params * settings.dtype_bytes)} as {settings.dtype}"),
        line("totals.non_trainable_params", "non-trainable", totals.non_trainable_params,
             "buffers (batch-norm running statistics), not params"),
        line("totals.macs", "MACs", totals.macs, "multiply-accumulates per example"),
        line("totals.flops", "FLOPs", 2 * totals.macs, "2 × MACs"),
        line("totals.activations", "activations", totals.activations,
             f"elements = {format_bytes(settings.bytes_of(totals.activations))} at batch "
             f"{settings.batch}"),
        line("totals.activation_bytes", "activation bytes", settings.bytes_of(totals.activations),
             f"{format_bytes(settings.bytes_of(totals.activations), True)}")]
    if extra.counted is not None:
        rows.append(line("counting.ops", f"ops ({extra.counted.convention.name})",
                         extra.counted.total, extra.counted.convention.description))
    memory = extra.memory
    if memory is not None:
        rows += [line("memory.inference_peak_activations", "inference peak",
                      memory.peak_elements, f"elements alive at once = "
                      f"{format_bytes(settings.bytes_of(memory.peak_elements))}"),
                 line("memory.inference_bytes", "inference memory", memory.inference,
                      f"bytes = {format_bytes(memory.inference)}: the peak, parameters and "
                      "buffers")]
        if totals.scores:
            rows.append(line("memory.attention_score_bytes", "attention scores",
                             memory.attention_scores,
                             "none held: fused attention" if memory.fused else
                             f"bytes = {format_bytes(memory.attention_scores)}: every attention "
                             "layer's heads × queries × keys (training keeps them all)"))
        if memory.training is not None:
            rows.append(line("memory.training.total_bytes", "training memory",
                             memory.training.total, f"bytes with {memory.training.optimizer}"))
    rows.append(f'<tr><th>output</th><td class="n" data-key="totals.output_shape" '
                f'data-value="{totals.output_shape}">{totals.output_shape}</td><td></td></tr>')
    return ['<table class="totals">', *rows, "</table>"]


def _problem_rows(report: Report) -> dict[int, int]:
    """Problem number -> its row: the row an analysis problem names first ("conv1: …"), else
    the row written on the problem's line."""
    at_line: dict[int, int] = {}
    named: dict[str, int] = {}
    for index, row in enumerate(report.rows):
        named.setdefault(row.name, index)
        if row.line:
            at_line.setdefault(row.line, index)
    found = {}
    for number, problem in enumerate(report.problems):
        place = named.get(problem.message.split(": ", 1)[0])
        if place is None and problem.path == report.path:
            place = at_line.get(problem.line)
        if place is not None:
            found[number] = place
    return found


def _problems(report: Report, rows_of: dict[int, int]) -> list[str]:
    if not report.problems:
        return ["<p>None: every size divides as written, every claim holds.</p>"]
    items = []
    for number, problem in enumerate(report.problems):
        link = (f' — <a href="#row-{rows_of[number]}">'
                f"{xml(report.rows[rows_of[number]].name)}</a>" if number in rows_of else "")
        items.append(f'<li id="problem-{number}" class="{xml(problem.level)}">'
                     f"<code>{xml(str(problem))}</code>{link}</li>")
    return ["<ul>", *items, "</ul>"]


def _cells(row: Row, report: Report, index: int, problem: int | None, anchor: str) -> str:
    fields = row.receptive_field
    field = ("x".join(dict.fromkeys(format_fraction(f.size) for f in fields))
             if fields else ("whole" if row.kind != "input" else ""))
    size = "" if row.size_status is Status.EXACT else row.size_status.value
    if problem is not None and size:
        size = f'<a href="#problem-{problem}">{size}</a>'
    share = f"{100 * row.macs / report.totals.macs:.1f}%" if report.totals.macs else ""
    css = [row.size_status.value] if row.size_status is not Status.EXACT else []
    css += ["block"] if row.rows_below else []
    indent = "&#160;&#160;" * row.depth
    return (f'<tr id="{anchor}{index}" class="{" ".join(css)}" data-depth="{row.depth}">'
            f"<td>{indent}{xml(row.name)}</td><td>{xml(row.kind)}</td>"
            f'<td class="n">{row.output_shape}</td>{_n(row.activations)}{_n(row.params)}'
            f'{_n(row.macs)}<td class="n">{share}</td><td>{size}</td>'
            f'<td class="n">{xml(field)}</td></tr>')


def _layers(report: Report, rows_of: dict[int, int], anchor: str = "row-") -> list[str]:
    problem_at = {row: number for number, row in sorted(rows_of.items(), reverse=True)}
    head = ("<tr><th>layer</th><th>kind</th><th class=\"n\">output</th>"
            "<th class=\"n\">activations</th><th class=\"n\">params</th><th class=\"n\">MACs</th>"
            "<th class=\"n\">share of MACs</th><th>size</th><th class=\"n\">receptive field</th>"
            "</tr>")
    return ['<table class="layers">', f"<thead>{head}</thead>", "<tbody>",
            *(_cells(row, report, index, problem_at.get(index), anchor)
              for index, row in enumerate(report.rows)), "</tbody>", "</table>"]


def _charts(report: Report, extra: Extra, anchor: str = "row-") -> list[str]:
    """The per-layer columns, the liveness curve and the receptive field's growth."""
    settings = report.settings
    layers = [(i, row) for i, row in enumerate(report.rows) if not row.rows_below and i]

    def figure(caption: str, chart: str) -> list[str]:
        return ["<figure>", f"<figcaption>{xml(caption)}</figcaption>", chart, "</figure>"]

    def column(key: str, unit: str) -> str:
        return charts.columns(key, [charts.Column(i, getattr(row, key),
                                                  f"{row.name}: {getattr(row, key):,} {unit}")
                                    for i, row in layers], unit, anchor)

    parts = [*figure("MACs per layer", column("macs", "MACs")),
             *figure("Parameters per layer", column("params", "params")),
             *figure(f"Activation memory per layer (elements; × {settings.dtype_bytes} B × batch "
                     f"{settings.batch} for bytes)", column("activations", "elements"))]
    if extra.steps and extra.memory is not None:
        peak = extra.memory.peak_elements
        text = (f"{peak:,} elements = {format_bytes(settings.bytes_of(peak))} at batch "
                f"{settings.batch}, {settings.dtype}")
        parts += figure(f"Inference liveness: the activations alive at each step (peak {text})",
                        charts.liveness(extra.steps, report, text, anchor))
    if report.input_shape.spatial:
        parts += figure("Receptive field along the network (dashed: the input's size)",
                        charts.receptive_field(report, anchor))
    return parts


def _conventions(memory: Memory | None) -> list[str]:
    notes = [*CONVENTIONS, *(DEFINITIONS.values() if memory is not None else ())]
    return ["<ul>", *(f"<li>{xml(note)}</li>" for note in notes), "</ul>"]


def summary(report: Report, extra: Extra) -> str:
    """``summarize --format html``."""
    rows_of = _problem_rows(report)
    body = [*_header(report, extra.counted),
            "<h2>Totals</h2>", *_totals(report, extra),
            f"<h2>Problems ({len(report.problems)})</h2>", *_problems(report, rows_of),
            "<h2>Charts</h2>", *_charts(report, extra),
            "<h2>Layers</h2>", *_layers(report, rows_of),
            "<h2>Conventions</h2>", *_conventions(extra.memory)]
    data = summary_json(report, extra.memory, extra.counted)
    return page(f"{report.name} — convcalc report", body, data)


def _change(change: Change) -> str:
    def side(row: Row | None) -> str:
        if row is None:
            return "<td>—</td>"
        return (f"<td>{xml(row.kind)} {row.output_shape}, {row.params:,} params, "
                f"{row.macs:,} MACs</td>")

    return (f"<tr><td>{xml(change.name)}</td><td>{xml(change.status)}</td>"
            f"{side(change.before)}{side(change.after)}</tr>")


def comparison(reports: Sequence[Report], extras: Sequence[Extra],
               changes: Sequence[Change]) -> str:
    """``compare A B --format html``: totals side by side, each spec's charts in a column,
    and the layers that differ."""
    first, second = reports
    keys = [("params", "params"), ("non_trainable_params", "non-trainable"), ("macs", "MACs"),
            ("activations", "activations")]
    rows = []
    for key, label in keys:
        a, b = getattr(first.totals, key), getattr(second.totals, key)
        rows.append(f"<tr><th>{label}</th>{_n(a, f'a.{key}')}{_n(b, f'b.{key}')}"
                    f'<td class="n">{b - a:+,}</td></tr>')
    head = (f"<tr><th></th><th class=\"n\">{xml(first.name)}</th><th class=\"n\">"
            f"{xml(second.name)}</th><th class=\"n\">B − A</th></tr>")
    columns, tables = ['<div class="pair">'], []
    for side, report, extra in zip("ab", reports, extras, strict=True):
        anchor = f"{side}-row-"
        columns += ["<div>", f"<h3>{xml(report.name)}</h3>", *_charts(report, extra, anchor),
                    "</div>"]
        tables += ["<details>", f"<summary>{side.upper()}: {xml(report.name)} "
                   f"({len(report.rows):,} rows)</summary>",
                   *_layers(report, {}, anchor), "</details>"]
    body = [f"<h1>{xml(first.name)} versus {xml(second.name)}</h1>",
            f'<p class="sub">A: <code>{xml(first.path)}</code>; B: <code>{xml(second.path)}'
            "</code></p>", "<h2>Totals</h2>", '<table class="totals">', head, *rows, "</table>",
            "<h2>Charts</h2>", *columns, "</div>", f"<h2>Layers that differ ({len(changes)})</h2>",
            '<table class="layers"><tr><th>layer</th><th>change</th><th>A</th><th>B</th></tr>',
            *map(_change, changes), "</table>", "<h2>Layers</h2>", *tables,
            "<h2>Conventions</h2>",
            *_conventions(None)]
    data = json.dumps({"a": json.loads(summary_json(first)), "b": json.loads(summary_json(second))},
                      ensure_ascii=False)
    return page(f"{first.name} versus {second.name} — convcalc", body, data)
