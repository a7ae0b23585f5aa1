"""Namespaces and the shipped XSD: one place that knows the names, so nothing else hard-codes a URI.

The schema files are package data. They are loaded through a resolver that serves only our own files,
so compiling the schema can never touch the network or the file system outside the package. Compiled
schemas are cached per thread because an lxml ``XMLSchema`` keeps its error log on the instance.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any

from lxml import etree

from procflow.exchange.errors import SchemaInvalid
from procflow.exchange.redaction import redacted

__all__ = [
    "DS_NS",
    "EDXML_NS",
    "ENVELOPE_ID",
    "PF_NS",
    "PF_NS_PREFIX",
    "SCHEMA_FILES",
    "XLINK_NS",
    "edxml",
    "envelope_schema",
    "pf",
    "validate_tree",
]

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
PF_NS = "urn:procflow:exchange:1"
PF_NS_PREFIX = "urn:procflow:exchange:"  # any version; used to tell "other version" from "not ours"
XLINK_NS = "http://www.w3.org/1999/xlink"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPE_ID = "envelope"  # Id of the procflow-profile edXMLEnvelope: what its signature references

MAIN_SCHEMA = "edxml-procflow-1.xsd"
SCHEMA_FILES = (MAIN_SCHEMA, "procflow-exchange-1.xsd", "xlink.xsd")
_BASE_URL = "procflow-exchange-schema:///"


def edxml(local: str) -> str:
    """Clark name of an edXML element."""
    return f"{{{EDXML_NS}}}{local}"


def pf(local: str) -> str:
    """Clark name of a procflow payload element."""
    return f"{{{PF_NS}}}{local}"


def _schema_bytes(name: str) -> bytes:
    return resources.files("procflow.exchange").joinpath(name).read_bytes()


class _PackageResolver(etree.Resolver):
    """Serve ``schemaLocation`` imports from package data and nothing else."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        name = (system_url or "").rsplit("/", 1)[-1]
        if name in SCHEMA_FILES:
            return self.resolve_string(_schema_bytes(name), context, base_url=_BASE_URL + name)
        raise OSError(f"schema import {system_url!r} is not part of procflow.exchange")


_local = threading.local()


def envelope_schema() -> etree.XMLSchema:
    """The compiled procflow edXML profile (with the payload and XLink schemas it imports)."""
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        parser.resolvers.add(_PackageResolver())
        doc = etree.fromstring(_schema_bytes(MAIN_SCHEMA), parser, base_url=_BASE_URL + MAIN_SCHEMA)
        schema = etree.XMLSchema(doc)
        _local.schema = schema
    return schema


def validate_tree(root: etree._Element, *, source: str = "envelope") -> None:
    """Validate against the profile; the error names the first failing line and element path."""
    schema = envelope_schema()
    if schema.validate(root):
        return
    error = schema.error_log.last_error
    first = schema.error_log[0] if len(schema.error_log) else error
    where = f"{source}, line {first.line}" if first is not None else source
    path = f" at {first.path}" if first is not None and first.path else ""
    message = redacted(first.message) if first is not None else "does not match the schema"
    raise SchemaInvalid(f"{where}{path}: {message}")
