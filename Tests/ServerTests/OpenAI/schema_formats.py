"""The string formats kvserve writes, asserted as RFC 3339 (date, time,
date-time) and RFC 4122 (uuid) write them: `jsonschema` leaves date-time
and time unchecked without the rfc3339-validator package. Used by
structured_checks.py and by the Swift suite's SchemaValidator."""

import datetime
import re
import uuid

import jsonschema

FORMATS = jsonschema.FormatChecker([])


@FORMATS.checks("date", raises=ValueError)
def _date(s):
    return not isinstance(s, str) or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s, re.ASCII)) and bool(datetime.date.fromisoformat(s))


@FORMATS.checks("time", raises=ValueError)
def _time(s):
    return not isinstance(s, str) or bool(re.fullmatch(r"\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", s, re.ASCII)) \
        and bool(datetime.time.fromisoformat(s.upper()))


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(s):
    return not isinstance(s, str) or bool(re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", s, re.ASCII)) \
        and bool(datetime.datetime.fromisoformat(s.upper()))


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(s):
    return not isinstance(s, str) or len(s) == 36 and all(s[k] == "-" for k in (8, 13, 18, 23)) and bool(uuid.UUID(s))
