"""The national portal's status codes and what each may mean in a procedure.

One table (Decision 766/QĐ-TTg's status set as the portal publishes it) behind both the definition check and
docs/concepts/statuses.md, so a definition cannot map a state to a status whose meaning it contradicts.
"""

from __future__ import annotations

import attrs

from procflow.definition.model import ProcedureDefinition

PORTAL_STATUS = {
    1: "newly registered (mới đăng ký)",
    2: "received (được tiếp nhận)",
    3: "not received (không được tiếp nhận)",
    4: "processing (đang xử lý)",
    5: "supplement requested (yêu cầu bổ sung giấy tờ)",
    6: "financial obligation requested (yêu cầu thực hiện nghĩa vụ tài chính)",
    7: "withdrawn at the citizen's request (công dân yêu cầu rút hồ sơ)",
    8: "processing stopped (dừng xử lý)",
    9: "processed (đã xử lý xong)",
    10: "result returned (đã trả kết quả)",
}


@attrs.frozen
class StatusRule:
    """What a national-portal status means for a state that reports it (the portal's meaning, as rules a
    definition can be checked against): final or not, what the SLA clock does, who holds the dossier."""

    final: bool | None  # None: either
    clocks: tuple[str, ...]  # the clock modes a state reporting this status may have
    holder: str | None = None  # the holder role the meaning implies (None: any)


STATUS_RULES: dict[int, StatusRule] = {
    1: StatusRule(False, ("excluded",), "receiving"),  # filed online, waiting for the desk: no limit yet
    2: StatusRule(False, ("running",)),  # received (by the one-stop desk or a member agency): the limit runs
    3: StatusRule(True, ("stopped",)),  # refused at receipt (form 03)
    4: StatusRule(False, ("running", "excluded")),  # being processed (a public posting does not count)
    5: StatusRule(False, ("citizen", "excluded")),  # waiting for the citizen's supplement (form 02)
    6: StatusRule(False, ("citizen", "excluded")),  # waiting for the citizen to pay (nghĩa vụ tài chính)
    7: StatusRule(True, ("stopped",)),  # withdrawn at the citizen's request
    8: StatusRule(None, ("stopped",)),  # processing stopped (form 05)
    9: StatusRule(False, ("stopped",), "receiving"),  # result at the one-stop desk, waiting to be handed over
    10: StatusRule(True, ("stopped",), "receiving"),  # result returned to the citizen
}


def status_mapping_problems(defn: ProcedureDefinition) -> list[str]:
    """Where a definition's states report a status whose meaning they contradict (empty: consistent)."""
    out = []
    for st in defn.states:
        rule = STATUS_RULES.get(st.portal_status)
        if rule is None:
            continue
        where = f"{defn.code} state {st.name!r} (status {st.portal_status})"
        if rule.final is not None and st.final != rule.final:
            out.append(f"{where}: status {st.portal_status} is {'a final' if rule.final else 'not a final'} state")
        if st.clock.value not in rule.clocks:
            out.append(f"{where}: clock {st.clock.value!r}, the status means {' or '.join(rule.clocks)}")
        if rule.holder is not None and st.holder != rule.holder:
            out.append(f"{where}: held by {st.holder!r}, the status means the {rule.holder} desk holds it")
    return out

