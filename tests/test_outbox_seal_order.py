"""Sealing a payload does not depend on the order of a dossier's sealed fields: a couple with the same name
(groom and bride) seals to the same reference whether the record came from memory or from the store."""

from __future__ import annotations

from procflow.engine.payloadrefs import seal_payload


def test_equal_personal_values_seal_to_the_same_reference_in_any_field_order():
    groom = {"$vault": "D-1/1/groom_name"}
    bride = {"$vault": "D-1/1/bride_name"}
    in_memory = {"groom_name": ("Lê Văn An", groom), "bride_name": ("Lê Văn An", bride)}
    from_store = {"bride_name": ("Lê Văn An", bride), "groom_name": ("Lê Văn An", groom)}
    payload = {"applicant": "Lê Văn An", "other": "x"}
    assert seal_payload(payload, in_memory) == seal_payload(payload, from_store) == {"applicant": bride,
                                                                                     "other": "x"}
