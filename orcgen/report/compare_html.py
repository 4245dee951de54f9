# SPDX-License-Identifier: GPL-2.0-only
"""`orcgen compare --format html`: one self-contained page (inline CSS, plots as
inline PNG), readable without a network and without scripts.

The page says what each rate means, shows the class table for A and B, bar
charts of the rates per class and the per-function distribution (matplotlib,
Agg backend, the `compare` extra; without it the page says so and has no
plots), lists the functions behind each class, and links each to its
evidence: the `orcgen diff` text block of that disagreement, at an anchor.
"""
from __future__ import annotations

import base64
import io
from html import escape

from ..compare import BINS, CLASSES, DEFINITIONS, ClassStat, Comparison, SideStats, rate
from .compare_text import headline, pct

MAX_LIST = 400          # functions listed per class, verdict and side; the JSON has all
NO_PLOTS = ("matplotlib is not installed, so this page has no plots "
            "(pip install 'orcgen[compare]' and run again); the tables have every figure.")

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em}
#classes td{white-space:nowrap}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.brk td:nth-child(2){color:#a00;font-weight:600}tr.any td{font-weight:700;background:#fff6e0}
.head{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;flex:1}
.big{font-size:1.8em;font-weight:700;color:#a00}dt{font-weight:600}dd{margin:0 0 .6em 1.5em}
pre{background:#f8f8f8;border:1px solid #ddd;padding:.5em;overflow-x:auto;font-size:12px}
table.funcs td{overflow-wrap:anywhere}
pre:target{border-color:#c60;background:#fff6e0}img{max-width:100%;border:1px solid #eee}
.note{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em}.muted{color:#666}
"""


def _side_id(c: Comparison, s: SideStats) -> str:
    return "a" if s is c.a else "b"


def plots(c: Comparison) -> dict[str, str] | None:
    """Base64 PNGs by name, or None when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    out = {}
    fig = Figure(figsize=(11, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    x = list(range(len(CLASSES)))
    for k, (per_insn, breaks) in enumerate(((True, True), (True, False), (False, True), (False, False))):
        ax = fig.add_subplot(2, 2, k + 1)
        for j, s in enumerate((c.a, c.b)):
            vals = [100.0 * (rate(s.cls(cl, breaks).instructions, s.compared) if per_insn
                             else rate(s.cls(cl, breaks).functions, s.functions)) for cl in CLASSES]
            ax.bar([v + (j - 0.5) * 0.38 for v in x], vals, 0.38, label=s.label,
                   color=("#c0392b", "#2e86c1")[j], alpha=1.0 if breaks else 0.55)
        _floor(ax, len(CLASSES))
        ax.set_xticks(x)
        ax.set_xticklabels(CLASSES, fontsize=8)
        ax.set_ylabel("%% of %s" % ("compared instructions" if per_insn else "functions with an FDE"), fontsize=8)
        ax.set_title("%s, per %s" % ("breaks unwinding" if breaks else "does not break unwinding",
                                     "instruction" if per_insn else "function"), fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out["rates"] = _png(fig)
    fig = Figure(figsize=(11, 3.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    labels = [label for _, label in BINS[1:]]
    for j, s in enumerate((c.a, c.b)):
        ax.bar([k + (j - 0.5) * 0.38 for k in range(len(labels))], list(s.distribution[1:]), 0.38,
               label="%s (%d of %d functions have none)" % (s.label, s.distribution[0], s.functions),
               color=("#c0392b", "#2e86c1")[j])
    _floor(ax, len(labels))
    ax.set_xticks(list(range(len(labels))))
    ax.set_xticklabels(labels)
    ax.set_xlabel("share of the function's compared instructions that break unwinding")
    ax.set_ylabel("functions")
    ax.set_title("Functions with a disagreement that breaks unwinding, by how much of them it covers", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out["distribution"] = _png(fig)
    return out


def _floor(ax, n: int) -> None:
    """Bars start at 0; an empty chart says so instead of showing a -0.04 axis."""
    top = ax.get_ylim()[1]
    if not any(p.get_height() for p in ax.patches):
        ax.set_ylim(0, 1)
        ax.text((n - 1) / 2, 0.5, "none on either side", ha="center", va="center", color="#666")
    else:
        ax.set_ylim(0, top)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _table(c: Comparison) -> list[str]:
    h = ['<table id="classes"><tr><th rowspan="2">class</th><th rowspan="2">verdict</th>']
    h += ['<th colspan="4">%s</th>' % escape(s.label) for s in (c.a, c.b)]
    h.append("</tr><tr>" + "<th>instructions</th><th>per instruction</th><th>functions</th>"
             "<th>per function</th>" * 2 + "</tr>")

    def cells(s: SideStats, st: ClassStat | None) -> str:
        ins = st.instructions if st else s.breaking_instructions
        fn = st.functions if st else s.breaking_functions
        link = ('<a href="#list-%s-%s-%s">%d</a>' % (_side_id(c, s), st.cls, "breaks" if st.breaks else "benign",
                                                     fn) if st and st.refs and fn else str(fn))
        return '<td class="n">%d</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>' % (
            ins, pct(rate(ins, s.compared)), link, pct(rate(fn, s.functions)))
    for cl in CLASSES:
        for b in (True, False):
            h.append('<tr class="%s"><td>%s</td><td>%s</td>%s%s</tr>' % (
                "brk" if b else "ok", cl, "breaks unwinding" if b else "benign",
                cells(c.a, c.a.cls(cl, b)), cells(c.b, c.b.cls(cl, b))))
    def uncovered(s: SideStats) -> str:
        n = s.functions_without_fde
        link = '<a href="#list-%s-coverage-breaks">%d</a>' % (_side_id(c, s), n) if n else "0"
        return '<td class="n">%d</td><td class="n">-</td><td class="n">%s</td><td class="n">-</td>' % (
            s.uncovered_instructions, link)
    h.append('<tr><td>coverage</td><td>uncovered (no FDE)</td>%s%s</tr>' % (uncovered(c.a), uncovered(c.b)))
    h.append('<tr class="any"><td>any</td><td>breaks unwinding</td>%s%s</tr>' % (cells(c.a, None),
                                                                                   cells(c.b, None)))
    h.append("</table>")
    return h


def _lists(c: Comparison, s: SideStats) -> tuple[list[str], set[int]]:
    sid, h, used = _side_id(c, s), [], set()
    for st in s.classes:
        if not st.refs:
            continue
        v = "breaks" if st.breaks else "benign"
        h.append('<h3 id="list-%s-%s-%s">%s: %s, %s (%d functions)</h3>' % (
            sid, st.cls, v, escape(s.label), st.cls, "breaks unwinding" if st.breaks else "does not break unwinding",
            len(st.refs)))
        h.append('<table class="funcs"><tr><th>file (below %s)</th>' % escape(s.path) + '<th>function</th>'
                 '<th>kind</th><th>origin</th><th>instructions</th></tr>')
        root = s.path.rstrip("/") + "/"
        for r in st.refs[:MAX_LIST]:
            used.add(r.evidence)
            short = r.file[len(root):] if r.file.startswith(root) else r.file
            h.append('<tr><td title="%s">%s</td><td><a href="#ev-%s-%d">%s</a>%s</td><td>%s</td><td>%s</td>'
                     '<td class="n">%d</td></tr>' % (
                         escape(r.file), escape(short), sid, r.evidence, escape(r.first),
                         "" if r.has_fde else " (no FDE)", escape(r.kind or st.cls),
                         escape(r.origin or "compiler"), r.instructions))
        h.append("</table>")
        if len(st.refs) > MAX_LIST:
            h.append('<p class="muted">... and %d more (all of them are in --format json).</p>'
                     % (len(st.refs) - MAX_LIST))
    return h, used


def render(c: Comparison) -> str:
    imgs = plots(c)
    h = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
         "<title>orcgen compare: %s vs %s</title><style>%s</style></head><body>" % (
             escape(c.a.label), escape(c.b.label), CSS),
         "<h1>orcgen compare: %s vs %s</h1>" % (escape(c.a.label), escape(c.b.label)),
         "<p>A = <code>%s</code>, B = <code>%s</code>. %d objects matched by relative path, %d only in A, "
         "%d only in B, %d unreadable. Each object's DWARF CFI was compared with the stack state orcgen "
         "computes (<code>orcgen diff</code>).</p>" % (escape(c.a.path), escape(c.b.path), len(c.matched),
                                                     len(c.only_a), len(c.only_b), len(c.errors)),
         '<h2 id="headline">Headline</h2><div class="head">']
    for s in (c.a, c.b):
        h.append('<div class="card"><b>%s</b><br><span class="big">%s</span> of functions with an FDE '
                 "(%d of %d) have at least one disagreement that breaks unwinding.<br>"
                 "%s"
                 '<span class="big">%s</span> of compared instructions (%d of %d) break unwinding.%s<br>'
                 '<span class="muted">%d objects, %d instructions; %d instructions no FDE covers, '
                 "%d functions without any FDE.</span></div>" % (
                     escape(s.label), pct(s.rate_per_function), s.breaking_functions, s.functions,
                     "Without the %d whose only breaking disagreements come from asm statements: %s.<br>" % (
                         s.breaking_functions - s.breaking_functions_compiler,
                         pct(rate(s.breaking_functions_compiler, s.functions)))
                     if s.breaking_functions_compiler != s.breaking_functions else "",
                     pct(s.rate_per_instruction), s.breaking_instructions, s.compared,
                     " (%d estimated from byte ranges)" % s.estimated_instructions if s.estimated_instructions
                     else "", s.objects, s.instructions, s.uncovered_instructions, s.functions_without_fde))
    h.append("</div>")
    h.append('<p id="pairs">Functions paired by object and name that break unwinding in both builds: %d; '
             "only in %s: %d; only in %s: %d (listed below the class lists).</p>" % (
                 len(c.breaking_both), escape(c.a.label), len(c.breaking_only_a), escape(c.b.label),
                 len(c.breaking_only_b)))
    h.append('<h2 id="meaning">What the rates mean</h2><dl>')
    h += ["<dt>%s</dt><dd>%s</dd>" % (escape(k), escape(v)) for k, v in DEFINITIONS]
    h.append("<dt>classes</dt><dd>cfa: the CFA rule; return-address: where the return address is; "
             "frame-pointer: the caller's frame pointer; callee-saved: the other callee-saved registers; "
             "coverage: code no FDE covers, FDEs that overlap or run past their function.</dd></dl>")
    h.append('<h2 id="table">Per class and verdict</h2>')
    h += _table(c)
    h.append('<h2 id="plots">Plots</h2>')
    if imgs is None:
        h.append('<p class="note" id="no-plots">%s</p>' % escape(NO_PLOTS))
    else:
        h.append('<img id="plot-rates" alt="rates per class, A vs B" src="data:image/png;base64,%s">' % imgs["rates"])
        h.append('<img id="plot-distribution" alt="per-function distribution" src="data:image/png;base64,%s">'
                 % imgs["distribution"])
    h.append('<h2 id="functions">Functions behind each class</h2>'
             "<p>Each function links to the first disagreement of that class in it; all of a function's "
             "disagreements are in <code>orcgen diff FILE</code>.</p>")
    evidence_of = []
    for s in (c.a, c.b):
        lst, used = _lists(c, s)
        h += lst or ["<p>%s: none.</p>" % escape(s.label)]
        evidence_of.append((s, used))
    for s, pairs in ((c.a, c.breaking_only_a), (c.b, c.breaking_only_b)):
        if pairs:
            h.append("<h3>Breaking unwinding only in %s (%d functions)</h3><p>%s%s</p>" % (
                escape(s.label), len(pairs), ", ".join("%s: %s" % (escape(k), escape(f)) for k, f in pairs[:MAX_LIST]),
                " ..." if len(pairs) > MAX_LIST else ""))
    h.append('<h2 id="evidence">Evidence</h2>')
    for s, used in evidence_of:
        sid = _side_id(c, s)
        for n in sorted(used):
            file, e = s.evidence[n]
            h.append('<pre id="ev-%s-%d">%s</pre>' % (sid, n, escape(e.text)))
    for what, keys in (("Only in A", c.only_a), ("Only in B", c.only_b)):
        if keys:
            h.append('<h2>%s (%d)</h2><ul>%s</ul>' % (what, len(keys), "".join("<li>%s</li>" % escape(k)
                                                                              for k in keys)))
    if c.errors:
        h.append("<h2>Unreadable (%d)</h2><ul>%s</ul>" % (len(c.errors), "".join(
            "<li>%s: %s: %s</li>" % tuple(escape(x) for x in e) for e in c.errors)))
    h.append("</body></html>")
    return "\n".join(h) + "\n"
