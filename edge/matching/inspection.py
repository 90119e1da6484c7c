"""What staff check by eye and by test kit: the sensory checklist and the rapid test (pure).

A category listed in ``Policy.sensory`` has a short yes/no checklist; any item
answered as a problem fails the line with its ``SENSORY_*`` code. Categories
in ``Policy.rapid_test_categories`` need a rapid test result; an inhibition
above ``rapid_test_max_inhibition_pct`` (or a failed kit) fails the line.
"""

from __future__ import annotations

from edge.matching.types import Check, Observation, Order, OrderLine, Policy
from edge.matching.units import fmt

# item key -> (reason code when found, the question staff answer, in Chinese)
SENSORY_ITEMS: dict[str, tuple[str, str]] = {
    "spoiled": ("SENSORY_SPOILED", "腐败变质"),
    "mould": ("SENSORY_MOULD", "霉变"),
    "foreign_matter": ("SENSORY_FOREIGN_MATTER", "异物"),
    "odour": ("SENSORY_ODOUR", "异味"),
    "packaging": ("SENSORY_PACKAGING", "包装破损"),
    "refrozen": ("SENSORY_REFROZEN", "解冻后再冻"),
    "label": ("SENSORY_LABEL", "标签不符"),
}


def sensory_items(line: OrderLine | None, policy: Policy) -> tuple[str, ...]:
    """The checklist of the line's category (empty: none configured)."""
    return () if line is None else policy.sensory.get(line.item.category, ())


def needs_rapid_test(line: OrderLine | None, policy: Policy) -> bool:
    return line is not None and line.item.category in policy.rapid_test_categories


def check_sensory(line: OrderLine, obs: Observation, policy: Policy) -> list[Check]:
    """One check per answered item (a failed one carries its code); none without a list."""
    items = sensory_items(line, policy)
    answers = dict(obs.sensory or ())
    if not items and not answers:
        return []
    missing = [k for k in items if k not in answers]
    if missing:
        names = "、".join(SENSORY_ITEMS[k][1] for k in missing)
        return [Check("sensory", "fail", f"感官检查未完成：{names}", "SENSORY_MISSING")]
    out = []
    for key, ok in answers.items():
        code, name = SENSORY_ITEMS[key]
        out.append(Check("sensory", "pass", f"无{name}") if ok
                   else Check("sensory", "fail", f"感官检查发现{name}", code))
    return out


def check_rapid_test(line: OrderLine, obs: Observation, policy: Policy) -> Check | None:
    t = obs.rapid_test
    if t is None:
        if needs_rapid_test(line, policy):
            return Check("rapid_test", "fail", f"{line.item.name} 须做农药残留快检",
                         "RAPID_TEST_MISSING")
        return None
    who = f"（样品 {t.sample or '—'}，检测人 {t.operator or '—'}）"
    limit = policy.rapid_test_max_inhibition_pct
    if t.inhibition_pct is not None:
        said = "，仪器判定不合格" if t.passed is False else ""
        text = f"农残抑制率 {fmt(t.inhibition_pct)}%，限值 {fmt(limit)}%{said}{who}"
        if t.inhibition_pct > limit or t.passed is False:  # an instrument's own verdict counts too
            return Check("rapid_test", "fail", text, "RAPID_TEST_FAILED")
        return Check("rapid_test", "pass", text)
    if t.passed is False:
        return Check("rapid_test", "fail", f"快检不合格{who}", "RAPID_TEST_FAILED")
    return Check("rapid_test", "pass", f"快检合格{who}")


def document_requirements(order: Order, line: OrderLine | None) -> tuple[tuple[str, ...], ...]:
    """What the line's category must come with (each requirement: any one of its kinds)."""
    return () if line is None else order.documents_required.get(line.item.category, ())


def check_documents(order: Order, line: OrderLine, obs: Observation) -> Check | None:
    reqs = document_requirements(order, line)
    if not reqs:
        return None
    label = order.document_kinds
    missing = ["或".join(label.get(k, k) for k in r) for r in reqs
               if not set(r) & set(obs.documents)]
    if missing:
        return Check("documents", "fail", f"缺少随货证明：{'；'.join(missing)}", "CERT_MISSING")
    have = [label.get(k, k) for k in obs.documents]
    return Check("documents", "pass", f"随货证明已拍照：{'、'.join(dict.fromkeys(have))}")
