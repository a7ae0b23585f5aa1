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


def test_status_notices_and_timer_notices_go_to_the_holder() -> None:
    """A citizen notice goes to the dossier holder (``citizen_recipient``: the applicant rule), not to the first
    phone in the file (here a contact's); only where a declared holder contact is empty and the holder has no
    other does it fall back to the first phone given."""
    from procflow.definition.model import TimerAction, TimerAnchor, TimerSpec
    from procflow.engine.outbox import notification_topic
    from procflow.engine.timers import notices

    phones = '[[fields]]\nname = "contact_phone"\npersonal = "phone"\n[[fields]]\nname = "parent_phone"\n' \
             'personal = "phone"\n[[states]]'
    spec = TimerSpec("nudge", TimerAnchor.STATE, TimerAction.NOTIFY, ("received",), hours=1, notify=("citizen",))
    topic = notification_topic()
    cases = (  # (declared [applicant], contact_phone, parent_phone, expected)
        ("", "0912000001", "0912000002", "0912000002"),  # the holder's, though the contact's comes first
        ("", "0912000001", "", "0912000001"),  # undeclared: the rule itself goes on to the other phones
        ('applicant = { phone = "parent_phone" }', "0912000001", "0912000002", "0912000002"),
        ('applicant = { phone = "parent_phone" }', "0912000001", "", "0912000001"),  # empty holder: fallback
        ('applicant = { phone = "parent_phone" }', "", "", None),
    )
    for declared, contact, parent, expected in cases:
        defn = parse_definition(TOML.format(declared=declared).replace('[[states]]', phones, 1))
        d = _dossier({"child_name": "Bé An", "parent_name": "Lê Văn Tám", "contact_phone": contact,
                      "parent_phone": parent})
        e = DossierEvent(dossier_id=d.id, seq=1, at=d.received_at, kind="filed", trigger=None, from_state=None,
                         to_state="received", status=2, actor="a", agency="X", custodian="X", definition_version=1)
        [status_notice] = topic.payloads(d, e, defn)
        [timer_notice] = notices(spec, d, defn, WorkingCalendar(), armed_seq=1)
        assert status_notice["recipient"] == timer_notice.payload["recipient"] == {"phone": expected, "email": None}


def test_a_holder_reachable_by_e_mail_is_not_copied_to_another_phone() -> None:
    """The fallback is per person: a holder with an e-mail but no phone gets the notice by e-mail only; the
    first phone in the file (someone else's) is not added."""
    from procflow.engine.outbox import citizen_recipient

    fields = '[[fields]]\nname = "contact_phone"\npersonal = "phone"\n[[fields]]\nname = "parent_phone"\n' \
             'personal = "phone"\n[[fields]]\nname = "parent_email"\npersonal = "email"\n[[states]]'
    declared = 'applicant = { phone = "parent_phone", email = "parent_email" }'
    defn = parse_definition(TOML.format(declared=declared).replace('[[states]]', fields, 1))
    data = {"contact_phone": "0912000001", "parent_phone": "", "parent_email": "an@example.vn"}
    assert citizen_recipient(data, defn) == {"phone": None, "email": "an@example.vn"}
    assert citizen_recipient({**data, "parent_email": ""}, defn) == {"phone": "0912000001", "email": None}
