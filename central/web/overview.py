"""The city overview (bureau): warnings by school, by indicator and by state, and a chart of the
last 30 days drawn server-side as inline SVG (no script, nothing fetched)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from central.platform import discipline
from central.platform.service import discipline_step
from central.web.accounts import Session
from central.web.auth import WebStore, require_role
from central.web.html import esc, page
from central.web.warnings import indicator_name

router = APIRouter()
COLORS = {"open": "#c33", "explained": "#d90", "escalated": "#90c", "closed": "#393"}
DAYS = 30


def chart_svg(per_day: dict[str, Counter[str]], last: date, days: int = DAYS) -> str:
    """Stacked bars of warnings per day by state, ``days`` days ending with ``last`` (pure)."""
    w, h, pad, bar = 640, 200, 24, 640 // days
    dates = [last - timedelta(days=days - 1 - i) for i in range(days)]
    top = max([sum(per_day.get(d.isoformat(), Counter()).values()) for d in dates] + [1])
    parts = [f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + pad}" '
             f'role="img" aria-label="近{days}天预警数">'
             f'<line x1="0" y1="{h}" x2="{w}" y2="{h}" stroke="#888"/>'
             f'<text x="2" y="12" font-size="11">{top}</text>']
    for i, d in enumerate(dates):
        y = float(h)
        for state in ("closed", "explained", "escalated", "open"):
            n = per_day.get(d.isoformat(), Counter())[state]
            if n:
                height = n * (h - 16) / top
                y -= height
                parts.append(f'<rect class="bar" data-day="{d.isoformat()}" data-state="{state}" '
                             f'data-n="{n}" '
                             f'x="{i * bar + 1}" y="{y:.1f}" width="{bar - 2}" height="{height:.1f}" '
                             f'fill="{COLORS[state]}"><title>{d.isoformat()} {discipline.STATES[state]} {n}'
                             f'</title></rect>')
        if i % 5 == 0 or i == days - 1:
            parts.append(f'<text x="{i * bar}" y="{h + 16}" font-size="10">{d.strftime("%m-%d")}</text>')
    return "".join(parts) + "</svg>"


def _table(table_id: str, title: str, rows: dict[str, Counter[str]]) -> str:
    head = "".join(f"<th>{v}</th>" for v in discipline.STATES.values())
    body = "".join(f'<tr><td>{esc(name)}</td>' + "".join(f'<td>{c[s]}</td>' for s in discipline.STATES)
                   + f'<td>{sum(c.values())}</td></tr>' for name, c in sorted(rows.items()))
    return (f'<section><h2>{title}</h2><table id="{table_id}"><tr><th></th>{head}<th>合计</th></tr>'
            f'{body or "<tr><td colspan=6>暂无</td></tr>"}</table></section>')


@router.get("/web/overview")
def overview(request: Request, session: Annotated[Session, Depends(require_role("city_bureau"))],
             store: WebStore) -> HTMLResponse:
    cfg: Any = request.app.state.cfg
    discipline_step(store, cfg)
    by_school: dict[str, Counter[str]] = defaultdict(Counter)
    by_indicator: dict[str, Counter[str]] = defaultdict(Counter)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for school, indicator, day, state, n in discipline.tally(store):
        by_school[school][state] += n
        by_indicator[indicator_name(indicator)][state] += n
        per_day[day][state] += n
    today = datetime.now(ZoneInfo(cfg.indicators.timezone)).date()
    legend = " ".join(f'<span><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
                      f'fill="{c}"/></svg> {discipline.STATES[s]}</span>' for s, c in COLORS.items())
    body = (f'<section><h2>近 {DAYS} 天预警</h2>{chart_svg(per_day, today)}<p>{legend}</p></section>'
            f'{_table("by-school", "按学校", by_school)}{_table("by-indicator", "按指标", by_indicator)}')
    return page("全市概览", body, session)
