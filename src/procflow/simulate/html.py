"""The simulation report as one self-contained HTML file a province official can open offline.

Everything is inline — CSS, a few lines of JS to sort the ranking table, and charts drawn as SVG by the small
functions below — so the file can be mailed or put on a USB stick and opened without a network. Hand-written
SVG instead of a charting library: four chart shapes do not justify a dependency, and the output stays
readable and diffable. Labels are Vietnamese first, English beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from procflow.officehours import local_time

__all__ = ["render_html"]

_COLORS = ("#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#0a7b83", "#cf222e", "#6e7781", "#953800")
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 6px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.en{color:#57606a;font-weight:normal}.note{color:#57606a;font-size:13px;margin:4px 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;min-width:150px;flex:1}
.card b{display:block;font-size:26px}.card span{font-size:13px;color:#57606a}
.panel{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:10px 0}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{padding:5px 8px;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th{cursor:pointer;background:#f6f8fa;white-space:normal}td:nth-child(2){white-space:normal}
td:nth-child(2),th:nth-child(2),td.l,th.l{text-align:left}
.bar{display:inline-block;height:9px;background:#1f6feb;border-radius:2px;vertical-align:middle;margin-right:6px}
.bad{color:#d1242f}.good{color:#1a7f37}.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg text{font-family:inherit}details summary{cursor:pointer;color:#0969da;margin:6px 0}
"""
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, i){th.addEventListener('click', function(){
  var t=th.closest('table'), b=t.tBodies[0], rows=Array.from(b.rows), asc=th.dataset.asc!=='1';
  rows.sort(function(x,y){var a=x.cells[i].dataset.v||x.cells[i].textContent,
    c=y.cells[i].dataset.v||y.cells[i].textContent;
    var n=parseFloat(a)-parseFloat(c); if(isNaN(n)){n=a.localeCompare(c,'vi');} return asc?n:-n;});
  rows.forEach(function(r){b.appendChild(r);}); th.dataset.asc=asc?'1':'0';});});
"""


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _num(x: float | int | None) -> str:
    return "—" if x is None else f"{x:,.0f}".replace(",", ".")


def _day(iso: str) -> str:
    return local_time(iso, "%d/%m")


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *,
               width: int = 1100, height: int = 300, shade: Sequence[tuple[int, int, str]] = (),
               dashed: frozenset[str] = frozenset()) -> str:
    """Lines over days; ``shade`` marks index ranges (fault windows) with a label."""
    left, right, top, bottom = 56, 16, 14, 42
    w, h = width - left - right, height - top - bottom
    n = max(len(x_labels), 1)
    peak = max([max(v, default=0) for _, v, _ in series] + [1])
    step: int = 10 ** max(len(str(int(peak))) - 1, 0)
    ymax = ((int(peak) // step) + 1) * step

    def x(i: float) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: float) -> float:
        return top + h - h * v / ymax

    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">']
    for k, (i0, i1, label) in enumerate(shade):  # one lane per fault, so overlapping windows stay readable
        x0, x1 = x(max(i0 - 0.5, 0)), x(min(i1 + 0.5, n - 1))
        lane = top + h - 16 * (k + 1)
        out.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 3):.1f}" height="{h}" fill="#bf8700" '
                   f'fill-opacity="0.09"><title>{escape(label)}</title></rect>')
        out.append(f'<rect x="{x0:.1f}" y="{lane}" width="{max(x1 - x0, 3):.1f}" height="13" rx="2" fill="#fff1c2" '
                   f'stroke="#d4a72c"/><text x="{x0 + 4:.1f}" y="{lane + 10}" font-size="10" fill="#7d4e00">'
                   f'{escape(label)}</text>')
    for k in range(5):
        v = ymax * k / 4
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#57606a">'
                   f'{_num(v)}</text>')
    every = max(1, n // 15)
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            out.append(f'<text x="{x(i):.1f}" y="{top + h + 16}" font-size="11" text-anchor="middle" '
                       f'fill="#57606a">{escape(label)}</text>')
    for name, values, color in series:
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dash = ' stroke-dasharray="6 4"' if name in dashed else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"{dash}>'
                   f'<title>{escape(name)}</title></polyline>')
        for i, v in enumerate(values):
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"><title>{escape(name)} · '
                       f'{escape(x_labels[i] if i < len(x_labels) else "")}: {_num(v)}</title></circle>')
    out.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(nm)}</span>' for nm, _, c in series)
    return f'<div class="legend">{legend}</div>' + "".join(out)


def bar_chart(rows: Sequence[tuple[str, float, str]], *, width: int = 1100, maximum: float | None = None,
              color: str = "#1f6feb") -> str:
    """Horizontal bars: (label, value, text shown at the bar's end)."""
    label_w, bar_h, gap = 360, 18, 8
    top = max((v for _, v, _ in rows), default=1) if maximum is None else maximum
    height = len(rows) * (bar_h + gap) + 4
    w = width - label_w - 190
    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value, text) in enumerate(rows):
        yy = i * (bar_h + gap) + 2
        bw = w * value / top if top else 0
        out.append(f'<text x="{label_w - 8}" y="{yy + 13}" font-size="12" text-anchor="end">{escape(label[:60])}</text>'
                   f'<rect x="{label_w}" y="{yy}" width="{max(bw, 1):.1f}" height="{bar_h}" rx="3" fill="{color}">'
                   f'<title>{escape(label)}: {escape(text)}</title></rect>'
                   f'<text x="{label_w + bw + 6:.1f}" y="{yy + 13}" font-size="12">{escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _fault_shading(days: Sequence[str], faults: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, str]]:
    out = []
    stamps = [datetime.fromisoformat(d) for d in days]
    for f in faults:
        start, end = datetime.fromisoformat(str(f["from"])), datetime.fromisoformat(str(f["to"]))
        if start.tzinfo is None and stamps:  # a day (holiday week): compare on dates
            start, end = start.replace(tzinfo=stamps[0].tzinfo), end.replace(hour=23, tzinfo=stamps[0].tzinfo)
        hit = [i for i, s in enumerate(stamps) if start.date() <= s.date() <= end.date()]
        if hit:
            out.append((hit[0], hit[-1], str(f["kind"])))
    return out


def _ranking(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ("<tr><th>#</th><th>Xã, phường · Commune</th><th>Tiếp nhận · received</th>"
            "<th>Phi địa giới · location-independent</th><th>Đúng hạn · on time</th>"
            "<th>Quá hạn đang mở · overdue open</th><th>Điểm · score</th></tr>")

    def row(r: Mapping[str, Any]) -> str:
        ot, li = r["on_time_rate"], r["li_share"]
        cls = "bad" if ot is not None and ot < 0.9 else ""
        return (f'<tr><td>{r["rank"]}</td><td>{escape(r["name"])} <small>{escape(r["agency"])}</small></td>'
                f'<td>{_num(r["received"])}</td>'
                f'<td data-v="{li}"><span class="bar" style="width:{li * 400:.0f}px"></span>{_pct(li)}</td>'
                f'<td data-v="{-1 if ot is None else ot}" class="{cls}">'
                f'<span class="bar" style="width:{(ot or 0) * 60:.0f}px;background:#1a7f37"></span>{_pct(ot)}</td>'
                f'<td>{_num(r["overdue_open"])}</td><td>{r["score"]:.2f}</td></tr>')

    top, rest = rows[:15], rows[15:]
    html = f'<table class="sortable"><thead>{head}</thead><tbody>{"".join(map(row, top))}</tbody></table>'
    if rest:
        html += (f"<details><summary>Xem tất cả {len(rows)} xã, phường · show all {len(rows)} communes</summary>"
                 f'<table class="sortable"><thead>{head}</thead><tbody>{"".join(map(row, rows))}</tbody></table>'
                 "</details>")
    return html


def _official(table: Mapping[str, Any], calibration: Mapping[str, Any] | None) -> str:
    """The official reporting table (tình hình, kết quả giải quyết TTHC) per level and per sector."""
    cols = table["columns"]
    head = "".join(f"<th>{escape(c['label'])}</th>" for c in cols)

    def row(label: str, r: Mapping[str, Any], strong: bool = False) -> str:
        cells = "".join(f"<td>{_num(r[c['key']])}</td>" for c in cols)
        name = f"<b>{escape(label)}</b>" if strong else escape(label)
        return f"<tr><td class='l'>{name}</td>{cells}</tr>"

    levels = {"commune": "cấp xã · commune level", "province": "cấp tỉnh · province level",
              "ministry": "cấp bộ · ministry level"}
    body = [row("Tổng số · total", table["total"], strong=True)]
    body += [row(levels.get(k, k), r) for k, r in table["by_level"].items()]
    body.append(f"<tr><td class='l' colspan='{len(cols) + 1}'><b>Theo lĩnh vực · by sector</b></td></tr>")
    body += [row(k, r) for k, r in table["by_sector"].items()]
    period = table["period"]
    note = ('<p class="note">Kỳ báo cáo · period: ' + escape(period["from"][:10]) + " → " + escape(period["to"][:10])
            + ". Trước hạn: có kết quả trước ngày hẹn trả; đúng hạn: đến hạn; quá hạn: sau hạn. Early: the result "
            "was ready on a day before the due day; on time: by the due moment; late: after it.</p>")
    if calibration and calibration.get("births_per_month_simulated") is not None:
        note += ('<p class="note">Khai sinh (kể cả liên thông) · births incl. bundles: '
                 f"{_num(calibration['births_per_month_simulated'])} / tháng · a month (mô phỏng · simulated), "
                 f"{_num(calibration['births_per_month_expected'])} theo số liệu hiệu chỉnh · calibrated "
                 f"(×{calibration['rate']:g}).</p>")
    return ('<h2>Báo cáo tình hình, kết quả giải quyết TTHC <span class="en">· official reporting table</span>'
            f"</h2>{note}<div class='panel'><table><tr><th class='l'>Cấp, lĩnh vực · level, sector</th>{head}</tr>"
            + "".join(body) + "</table></div>")


def render_html(data: Mapping[str, Any]) -> str:
    """The page for one simulation report (the dict ``procflow simulate --json`` prints)."""
    sim = data.get("simulation", {})
    total = data["total"]
    series = data.get("backlog_over_time") or {"days": [], "province": {"open": []}, "agencies": []}
    days = [_day(d) for d in series["days"]]
    faults = data.get("faults") or []
    shade = _fault_shading(series["days"], faults)
    bundles = data.get("bundles")
    cards = [(_num(sim.get("filed", total["received"])), "hồ sơ tiếp nhận · dossiers received"),
             (_pct(total["on_time_rate"]), "đúng hạn · completed on time"),
             (_num(total["overdue_open"]), "quá hạn đang mở · overdue, still open"),
             (_pct(data.get("location_independent_share")), "phi địa giới · location-independent")]
    if bundles:
        cards.append((_pct(bundles["on_time_rate"]), "liên thông đúng hạn · bundles on time"))
    parts = [f"<h1>Báo cáo mô phỏng một cửa — {escape(str(sim.get('province', '')))}</h1>",
             f'<div class="en">One-stop simulation report · {escape(str(sim.get("days", "")))} days from '
             f'{escape(str(sim.get("start", "")))} · seed {escape(str(sim.get("seed", "")))} · '
             "simulated data, not real citizens</div>",
             '<div class="cards">' + "".join(f"<div class='card'><b>{v}</b><span>{escape(t)}</span></div>"
                                             for v, t in cards) + "</div>"]
    effect = data.get("fault_effect")
    if faults:
        parts.append('<h2>Sự cố <span class="en">· faults injected</span></h2><div class="panel"><ul>' + "".join(
            f"<li><b>{escape(str(f['kind']))}</b> — {escape(str(f['what']))}"
            + (f" · {escape(str(f.get('name', '')))}" if f.get("name") else "")
            + f" · {escape(local_time(f['from']))} → {escape(local_time(f['to']))}</li>" for f in faults) + "</ul>")
        if effect:
            rows = [("Tỷ lệ đúng hạn · on-time rate", "on_time_rate", _pct),
                    ("Quá hạn đang mở · overdue open", "overdue_open", _num),
                    ("Tồn cao nhất · backlog peak", "backlog_peak", _num),
                    ("Tồn cuối kỳ · backlog at the end", "backlog_end", _num)]
            parts.append("<table><tr><th class='l'>Chỉ số · figure</th><th>Không sự cố · without faults</th>"
                         "<th>Có sự cố · with faults</th><th>Chênh lệch · difference</th></tr>" + "".join(
                             f"<tr><td class='l'>{label}</td><td>{fmt(effect['baseline'][k])}</td>"
                             f"<td>{fmt(effect['faulted'][k])}</td><td>"
                             + (f"{effect['delta'][k] * 100:+.1f} điểm %" if k == "on_time_rate"
                                and effect['delta'][k] is not None else f"{effect['delta'][k] or 0:+,.0f}")
                             + "</td></tr>" for label, k, fmt in rows) + "</table>")
            base = effect["baseline_backlog"]["open"]
            parts.append(line_chart(days, [("có sự cố · with faults", series["province"]["open"], _COLORS[1]),
                                           ("không sự cố · without faults", base, _COLORS[7])],
                                    shade=shade, dashed=frozenset({"không sự cố · without faults"})))
        parts.append("</div>")
    parts.append('<h2>Hồ sơ tồn theo ngày <span class="en">· backlog at the close of each day</span></h2>'
                 '<p class="note">Hồ sơ chưa xử lý xong do mỗi cơ quan đang giữ (đầu mối), lúc 17:00 mỗi ngày. '
                 "Open dossiers each agency holds (not yet processed), at 17:00 each day.</p><div class='panel'>")
    lines = [("toàn tỉnh · whole province", series["province"]["open"], _COLORS[0]),
             ("trong đó quá hạn · of which overdue", series["province"].get("overdue", []), _COLORS[1])]
    parts.append(line_chart(days, lines, shade=shade))
    agency_lines = [(f"{a['name']}", a["open"], _COLORS[(i + 2) % len(_COLORS)])
                    for i, a in enumerate(series["agencies"])]
    if agency_lines:
        parts.append('<p class="note">Các cơ quan tồn nhiều nhất · the agencies with the highest backlog</p>')
        parts.append(line_chart(days, agency_lines, shade=shade, height=280))
    parts.append("</div>")
    procs = sorted(data["by_procedure"].items())
    parts.append('<h2>Tỷ lệ đúng hạn theo thủ tục <span class="en">· on-time rate by procedure</span></h2>'
                 "<div class='panel'>" + bar_chart(
                     [(f"{code} {p['name'].split(' (')[0]}", p["on_time_rate"] or 0.0,
                       f"{_pct(p['on_time_rate'])} of {_num(p['completed'])} completed") for code, p in procs],
                     maximum=1.0, color=_COLORS[2]) + "</div>")
    statuses = data["statuses"]
    parts.append('<h2>Trạng thái hồ sơ <span class="en">· national-portal status (TrangThaiHoSo)</span></h2>'
                 "<div class='panel'>" + bar_chart(
                     [(f"{code} · {s['label'].partition(' (')[2].rstrip(')') or s['label']}", s["count"],
                       _num(s["count"])) for code, s in statuses.items()],
                     color=_COLORS[4]) + "</div>")
    if bundles:
        bundle_rows = "".join(
            f"<tr><td>{escape(code)} · {escape(b['name'].split(' (')[0])}</td><td>{_num(b['received'])}</td>"
            f"<td>{_num(b['completed'])}</td><td>{_num(b['on_time'])}</td><td>{_pct(b['on_time_rate'])}</td>"
            f"<td>{_num(b['open'])}</td><td>{_num(b['overdue_open'])}</td>"
            f"<td>{b['working_days'] if b['working_days'] is not None else '—'}"
            f"{'' if b.get('verification_working_days') is None else ' / ' + str(b['verification_working_days'])}"
            f"</td><td>{_num(b.get('verified', 0))}</td></tr>"
            for code, b in (bundles.get("by_bundle") or {}).items())
        parts.append('<h2>Liên thông <span class="en">· inter-agency bundles</span></h2><div class="panel"><table><tr>'
                     + "".join(f"<th>{h}</th>" for h in ("nhóm · bundle", "tiếp nhận · received",
                                                           "đã có kết quả · completed", "đúng hạn · on time",
                                                           "tỷ lệ · rate", "đang giải quyết · open",
                                                           "quá hạn · overdue open",
                                                           "thời hạn · limit (with verification)",
                                                           "có xác minh · verified"))
                     + f"</tr>{bundle_rows}</table>"
                     '<p class="note">Thời hạn cả nhóm tính từ khi nhận đủ hồ sơ, dài hơn khi phải xác minh (Nghị định '
                     "63/2024/NĐ-CP); kết quả trả tại xã tiếp nhận. Each bundle's limit counts from a complete "
                     "dossier and is longer when a member must verify; on time is judged against that limit. The "
                     "result is returned at the receiving commune.</p></div>")
    if data.get("official_table"):
        parts.append(_official(data["official_table"], data.get("calibration")))
    parts.append('<h2>Xếp hạng xã, phường <span class="en">· commune ranking</span></h2>'
                 '<p class="note">Điểm = trung bình thứ hạng (phân vị) theo tỷ lệ đúng hạn và tỷ lệ hồ sơ phi địa '
                 "giới, trên các hồ sơ xã đã tiếp nhận. Score = the average of the commune's percentile on the "
                 "on-time rate and on the location-independent share, over the dossiers it received. "
                 "Click a column to sort.</p>" + _ranking(data.get("commune_ranking", [])))
    parts.append(f'<p class="note">procflow · {escape(local_time(data.get("at")))} · '
                 "cùng seed cho cùng số liệu · the same seed gives the same figures</p>")
    return ("<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Báo cáo mô phỏng — {escape(str(sim.get('province', '')))}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main><script>{_JS}</script></body></html>\n")
