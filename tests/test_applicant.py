"""One rule names the dossier holder (chủ hồ sơ): the national portal's status row, the printed forms and the
payment request's payer agree.

Before, without a declared applicant the portal payload took the first personal name field (a birth
registration's newborn) while the forms preferred a field named for the person who files; and with one declared
but left empty the forms fell back to another name (the newborn's) while the portal sent none.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from procflow.calendar import WorkingCalendar
from procflow.definition.reader import parse_definition
from procflow.dossier import Dossier, DossierEvent
from procflow.engine.outbox import payment_topic, status_payload
from procflow.forms.build import _facts
from procflow.sla import SlaClock

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TOML = """
code = "t.applicant"
version = 1
name_vi = "Thử chủ hồ sơ"
level = "commune"
initial = "received"
{declared}
[sla]
working_days = 5
[[fields]]
name = "child_name"
personal = "name"
[[fields]]
name = "parent_name"
personal = "name"
[[fields]]
name = "parent_national_id"
personal = "national_id"
[[states]]
name = "received"
portal_status = 2
[[states]]
name = "done"
portal_status = 10
final = true
clock = "stopped"
[[transitions]]
trigger = "finish"
source = "received"
dest = "done"
"""


def _dossier(data: dict[str, str]) -> Dossier:
    at = datetime(2026, 4, 20, 9, tzinfo=VN)
    return Dossier(id="D1", procedure="t.applicant", definition_version=1, state="received", status=2,
                   custodian="X", agencies={"receiving": "X", "competent": "X", "location": "X"},
                   location_independent=False, received_at=at, updated_at=at,
                   sla=SlaClock.start(WorkingCalendar(), at, 5), data=data)


names = st.text(alphabet="ABCÂĐaăđ ", min_size=0, max_size=6)


@settings(max_examples=60, deadline=None)
@given(child=names, parent=names, declared=st.sampled_from(["", 'applicant = { name = "child_name" }']))
def test_the_portal_row_and_the_forms_name_the_same_holder(child: str, parent: str, declared: str) -> None:
    defn = parse_definition(TOML.format(declared=declared))
    d = _dossier({"child_name": child, "parent_name": parent, "parent_national_id": "092123456789"})
    portal = status_payload(d, defn)["applicant"]
    forms = _facts(d, defn).applicant
    billed = DossierEvent(dossier_id=d.id, seq=2, at=d.received_at, kind="fired", trigger="t", from_state=None,
                          to_state="received", status=6, actor="a", agency="X", custodian="X", definition_version=1)
    [payment] = payment_topic().payloads(d, billed, defn)
    assert (portal or "") == forms == (payment["payer"] or "")  # the payment platform bills the same person
    if declared:  # the declared field only: an empty one names nobody rather than someone else
        assert forms == child
    else:  # undeclared: the person who files (a field named for them) before the newborn
        assert forms == (parent or child)


def test_status_notices_and_timer_notices_reach_the_same_contact() -> None:
    """Any contact will do for a notice: both the status notice and a timer's notice take the first phone given,
    in file order (``ProcedureDefinition.personal_value``), even where another field is named for the holder."""
    from procflow.definition.model import TimerAction, TimerAnchor, TimerSpec
    from procflow.engine.outbox import notification_topic
    from procflow.engine.timers import notices

    toml = TOML.format(declared="").replace('[[states]]', '[[fields]]\nname = "contact_phone"\npersonal = "phone"\n'
                                            '[[fields]]\nname = "parent_phone"\npersonal = "phone"\n[[states]]', 1)
    defn = parse_definition(toml)
    spec = TimerSpec("nudge", TimerAnchor.STATE, TimerAction.NOTIFY, ("received",), hours=1, notify=("citizen",))
    topic = notification_topic()
    # the holder's rule (applicant_value) would take parent_phone first: the first case tells them apart
    for contact, expected in (("0912000001", "0912000001"), ("", "0912000002")):
        d = _dossier({"child_name": "Bé An", "parent_name": "Lê Văn Tám", "contact_phone": contact,
                      "parent_phone": "0912000002"})
        e = DossierEvent(dossier_id=d.id, seq=1, at=d.received_at, kind="filed", trigger=None, from_state=None,
                         to_state="received", status=2, actor="a", agency="X", custodian="X", definition_version=1)
        [status_notice] = topic.payloads(d, e, defn)
        [timer_notice] = notices(spec, d, defn, WorkingCalendar(), armed_seq=1)
        assert status_notice["recipient"]["phone"] == timer_notice.payload["recipient"]["phone"] == expected
