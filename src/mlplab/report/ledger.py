"""The claims-ledger report: one self-contained HTML page, ``claims.json`` and ``SUMMARY.md``.

The page needs no network: figures are embedded as base64 PNG and the style sheet is inline.
It opens with a summary table of the claims and their verdicts, then one section per claim —
the claim and where the text makes it, the rule that decides the verdict, the numbers with
their spread over seeds, the figures, the settings and the command that reruns it alone.
When another profile's result for the same claim is known (``compare``), both verdicts are
shown and a disagreement is flagged.

Everything is written atomically through :mod:`mlplab.io`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path

from mlplab.io import atomic_write_bytes, atomic_write_json, atomic_write_text, ensure_dir

__all__ = [
    "write_report",
    "render_html",
    "render_markdown",
    "claims_json",
    "load_claims_json",
    "BADGE_TEXT",
]

BADGE_TEXT = {
    "holds": "holds",
    "partly": "partly holds",
    "fails": "does not hold",
    "error": "error",
}

_CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#dfe3ea; --bg:#f6f7f9; --card:#fff;
        --holds:#1f7a3f; --holds-bg:#e3f4e8; --partly:#8a5a00; --partly-bg:#fff1d6;
        --fails:#a52a2a; --fails-bg:#fbe4e4; --error:#444; --error-bg:#e6e6e6; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:28px 40px 22px; }
header h1 { margin:0 0 6px; font-size:26px; font-weight:650; }
header p { margin:2px 0; color:#c9d0dc; }
main { max-width:1120px; margin:0 auto; padding:24px 32px 60px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
        padding:20px 24px; margin:18px 0; }
.counts span { margin-right:18px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line);
         vertical-align:top; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
td.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
a { color:#2456a6; text-decoration:none; } a:hover { text-decoration:underline; }
.badge { display:inline-block; padding:2px 10px; border-radius:999px; font-size:12.5px;
         font-weight:600; white-space:nowrap; }
.badge.holds { color:var(--holds); background:var(--holds-bg); }
.badge.partly { color:var(--partly); background:var(--partly-bg); }
.badge.fails { color:var(--fails); background:var(--fails-bg); }
.badge.error { color:var(--error); background:var(--error-bg); }
.badge.none { color:var(--muted); background:#eef0f4; font-weight:500; }
.disagree { color:var(--fails); font-weight:600; font-size:12.5px; }
section.claim h2 { margin:0 0 4px; font-size:20px; }
section.claim h2 .cid { color:var(--muted); font-weight:600; margin-right:8px; }
blockquote { margin:10px 0 14px; padding:8px 14px; border-left:4px solid #9db3d8;
             background:#f3f6fb; font-style:italic; }
.meta { color:var(--muted); font-size:13.5px; }
.breaks { border-top:1px solid var(--line); padding-top:10px; margin-top:14px; }
.rule { background:#fafbfc; border:1px dashed #c8ceda; border-radius:8px; padding:10px 14px; }
.verdict { margin:14px 0; font-size:15.5px; }
.numbers td:first-child { color:var(--muted); width:42%; }
figure { margin:14px 0; text-align:center; }
figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
            font-size:12.5px; }
pre { background:#f3f4f7; padding:10px 12px; border-radius:6px; overflow:auto; max-height:320px; }
details summary { cursor:pointer; color:var(--muted); margin:8px 0; }
.other { border-top:1px solid var(--line); margin-top:14px; padding-top:10px; }
.error-box { background:var(--fails-bg); padding:10px 14px; border-radius:8px; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _badge(verdict: str | None) -> str:
    if not verdict:
        return '<span class="badge none">not run</span>'
    return f'<span class="badge {_e(verdict)}">{_e(BADGE_TEXT.get(verdict, verdict))}</span>'


def _seconds(s) -> str:
    return "—" if s is None else f"{float(s):.1f} s"


def _timing(r: dict) -> str:
    """Wall time, with the CPU time when it is known."""
    text = _seconds(r.get("seconds"))
    if r.get("cpu_seconds") is not None:
        text += f" (CPU {float(r['cpu_seconds']):.1f} s)"
    return text


def _figure_files(res: dict) -> list[str]:
    return [f"figures/{res['id']}-{i + 1}.png" for i in range(len(res.get("figures") or []))]


def _summary_table(results: list[dict], profile: str, compare: dict) -> str:
    other_names = sorted({r["profile"] for r in compare.values()})
    head = "<th>claim</th><th>statement</th><th>text §</th>"
    head += f"<th>verdict ({_e(profile)})</th>"
    for o in other_names:
        head += f"<th>{_e(o)}</th>"
    head += '<th class="num">wall time</th><th class="num">CPU</th>'
    rows = []
    for r in results:
        cells = (
            f'<td><a href="#{_e(r["id"])}">{_e(r["id"])}</a></td>'
            f"<td>{_e(r['title'])}</td><td>{_e(r['section'])}</td><td>{_badge(r['verdict'])}</td>"
        )
        for o in other_names:
            other = compare.get(r["id"])
            if other and other["profile"] == o:
                flag = (
                    ' <span class="disagree">≠</span>' if other["verdict"] != r["verdict"] else ""
                )
                cells += f"<td>{_badge(other['verdict'])}{flag}</td>"
            else:
                cells += f"<td>{_badge(None)}</td>"
        cells += f'<td class="num">{_seconds(r.get("seconds"))}</td>'
        cells += f'<td class="num">{_seconds(r.get("cpu_seconds"))}</td>'
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(r: dict, compare: dict) -> str:
    parts = [f'<section class="claim card" id="{_e(r["id"])}">']
    parts.append(f'<h2><span class="cid">{_e(r["id"])}</span>{_e(r["title"])}</h2>')
    parts.append(
        f'<p class="meta">Reference text § {_e(r["section"])} · profile {_e(r["profile"])} · '
        f"seeds {_e(', '.join(map(str, r['seeds'])))} · {_timing(r)}"
        f"{' (from cache)' if r.get('cached') else ''}</p>"
    )
    parts.append(f"<blockquote>{_e(r['claim'])}</blockquote>")
    parts.append(f"<p><strong>What is measured.</strong> {_e(r['measures'])}</p>")
    parts.append(f'<div class="rule"><strong>Rule (fixed before the run).</strong> {_e(r["rule"])}')
    parts.append("</div>")
    parts.append(
        f'<p class="verdict">{_badge(r["verdict"])} &nbsp;<strong>Evidence.</strong> '
        f"{_e(r['evidence'])}</p>"
    )
    if r.get("error"):
        parts.append(
            f'<div class="error-box"><strong>{_e(r["error"])}</strong>'
            f"<pre>{_e(r.get('traceback', ''))}</pre></div>"
        )
    if r.get("rows"):
        body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in r["rows"])
        is_open = " open" if len(r["rows"]) <= 16 else ""
        parts.append(
            f"<details{is_open}><summary>Numbers (mean ± sample standard deviation over "
            f"{len(r['seeds'])} seed{'s' if len(r['seeds']) != 1 else ''})</summary>"
            f'<table class="numbers"><tbody>{body}</tbody></table></details>'
        )
    for fig in r.get("figures") or []:
        parts.append(
            f'<figure><img alt="{_e(r["id"])}: {_e(fig["name"])}" '
            f'src="data:image/png;base64,{fig["png_base64"]}">'
            f"<figcaption>{_e(fig['name'])}</figcaption></figure>"
        )
    parts.append(
        "<details><summary>Settings</summary>"
        f"<pre>{_e(json.dumps(r['settings'], indent=2, ensure_ascii=False))}</pre></details>"
    )
    parts.append(f'<p class="meta">Rerun alone: <code>{_e(r["command"])}</code></p>')
    other = compare.get(r["id"])
    if other:
        agree = other["verdict"] == r["verdict"]
        note = "agrees" if agree else '<span class="disagree">disagrees</span>'
        parts.append(
            f'<div class="other"><strong>{_e(other["profile"])} profile</strong> '
            f"(seeds {_e(', '.join(map(str, other['seeds'])))}): {_badge(other['verdict'])} — "
            f"{note}. {_e(other['evidence'])}</div>"
        )
    if r.get("breaks"):
        parts.append(
            f'<p class="breaks"><strong>What would change the verdict.</strong> '
            f"{_e(r['breaks'])}</p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def render_html(results: list[dict], *, profile: str, compare: dict | None = None, meta=None):
    """The whole report page as a string (see the module docstring)."""
    compare = compare or {}
    meta = meta or {}
    counts = {v: sum(r["verdict"] == v for r in results) for v in BADGE_TEXT}
    count_html = "".join(
        f"<span>{_badge(v)} × {n}</span>" for v, n in counts.items() if n or v != "error"
    )
    generated = meta.get("generated") or _now()
    info = [
        f"profile <strong>{_e(profile)}</strong>",
        f"{len(results)} claims",
        f"generated {_e(generated)}",
        f"code version {_e(meta.get('code_version', '?'))}",
    ]
    if meta.get("wall_seconds") is not None:
        info.append(f"wall time {_seconds(meta['wall_seconds'])} with {meta.get('jobs', '?')} jobs")
    cpu = [r.get("cpu_seconds") for r in results if not r.get("cached")]
    if any(c is not None for c in cpu):
        info.append(f"CPU {sum(c or 0 for c in cpu):.0f} s in the claims run now")
    intro = (
        "Each claim of the reference text <em>Neural Networks: From Perceptron to MLP</em> is "
        "measured by an experiment of mlplab. The verdict — holds, partly holds or does not "
        "hold — comes from a rule written in code before the run, applied to the numbers shown; "
        "nothing is decided by hand. Where the text is vague or wrong, the verdict says so."
    )
    body = "\n".join(_section(r, compare) for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlplab claims ledger ({_e(profile)})</title>
<style>{_CSS}</style></head>
<body>
<header><h1>The claims ledger</h1>
<p>{" · ".join(info)}</p></header>
<main>
<div class="card"><p>{intro}</p>
<p class="counts">{count_html}</p>
{_summary_table(results, profile, compare)}
</div>
{body}
</main></body></html>
"""


def render_markdown(results: list[dict], *, profile: str, compare: dict | None = None, meta=None):
    """A short Markdown summary: one table row per claim, then each verdict's evidence."""
    compare = compare or {}
    meta = meta or {}
    lines = [
        f"# mlplab claims ledger — profile `{profile}`",
        "",
        f"Generated {meta.get('generated') or _now()}, code version "
        f"`{meta.get('code_version', '?')}`"
        + (
            f", wall time {meta['wall_seconds']:.1f} s with {meta.get('jobs', '?')} jobs."
            if meta.get("wall_seconds") is not None
            else "."
        ),
        "",
        "| claim | statement | § | verdict | other profile | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        other = compare.get(r["id"])
        o = "—"
        if other:
            o = f"{other['profile']}: {BADGE_TEXT.get(other['verdict'], other['verdict'])}"
            if other["verdict"] != r["verdict"]:
                o += " (differs)"
        lines.append(
            f"| [{r['id']}](index.html#{r['id']}) | {r['title']} | {r['section']} | "
            f"**{BADGE_TEXT.get(r['verdict'], r['verdict'])}** | {o} | "
            f"{float(r.get('seconds') or 0):.1f} |"
        )
    lines += ["", "## Evidence", ""]
    for r in results:
        lines.append(
            f"- **{r['id']}** ({BADGE_TEXT.get(r['verdict'], r['verdict'])}): {r['evidence']}"
        )
        if r.get("breaks"):
            lines.append(f"  - What would change the verdict: {r['breaks']}")
        for f in _figure_files(r):
            lines.append(f"  ![{r['id']}]({f})")
    return "\n".join(lines) + "\n"


def claims_json(results: list[dict], *, profile: str, report: str, compare=None, meta=None):
    """The machine-readable ledger (no embedded images; figure file names instead)."""
    compare = compare or {}
    claims = []
    for r in results:
        entry = {k: v for k, v in r.items() if k not in ("figures",)}
        entry["figures"] = [
            {"name": f["name"], "file": path}
            for f, path in zip(r.get("figures") or [], _figure_files(r))
        ]
        other = compare.get(r["id"])
        if other:
            entry["other_profile"] = {
                k: other.get(k) for k in ("profile", "seeds", "verdict", "evidence", "seconds")
            }
        claims.append(entry)
    return {"profile": profile, "report": report, **(meta or {}), "claims": claims}


def write_report(out_dir, results: list[dict], *, profile: str, compare=None, meta=None) -> dict:
    """Write ``index.html``, ``claims.json``, ``SUMMARY.md`` and ``figures/*.png`` to ``out_dir``.

    Returns the paths written: ``{"html", "json", "markdown", "figures": [...]}``.
    """
    out = ensure_dir(out_dir)
    ensure_dir(out / "figures")
    meta = {"generated": _now(), **(meta or {})}
    figures = []
    for r in results:
        for f, rel in zip(r.get("figures") or [], _figure_files(r)):
            atomic_write_bytes(out / rel, base64.b64decode(f["png_base64"]))
            figures.append(str(out / rel))
    html_path, json_path, md_path = out / "index.html", out / "claims.json", out / "SUMMARY.md"
    atomic_write_text(html_path, render_html(results, profile=profile, compare=compare, meta=meta))
    atomic_write_json(
        json_path,
        claims_json(results, profile=profile, report=str(html_path), compare=compare, meta=meta),
    )
    atomic_write_text(
        md_path, render_markdown(results, profile=profile, compare=compare, meta=meta)
    )
    return {
        "html": str(html_path),
        "json": str(json_path),
        "markdown": str(md_path),
        "figures": figures,
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def load_claims_json(path) -> dict | None:
    """A ``claims.json`` written by :func:`write_report`, or None if missing/unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
