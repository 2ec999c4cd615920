"""The MiniGo device protocol, version 2: the one definition both the agent and the server use.

Plain Python (no Django, no third-party imports) so it runs on a Raspberry Pi.

Text messages are JSON objects with "type" and "v". Frames travel as one binary websocket
message: a 4-byte big-endian header length, the JSON header, then the JPEG bytes.

Device → server: hello, heartbeat, shelf_event, frame (binary).
Server → device: ack, error, config, greet, revoked, heartbeat_ack, sync.

Version 2 adds the watermark: a heartbeat carries `watermark`, a Unix time up to which
everything the device produced has been acked by the server (its outbox holds nothing
older). Receipts wait for the shelves' watermarks to pass the shopper's exit. The server
sends `sync {until}` when a shopper leaves; an agent answers with a heartbeat as soon as its
watermark reaches `until`. The heartbeat_ack echoes the watermark the server recorded.
Version 1 agents keep working: the server accepts both, and takes a version 1 heartbeat's
own `ts` as its watermark (such an agent still draining a backlog then delivers events
below it: they arrive late and amend the receipt instead of holding it).

The server answers each message in the order received: ack {event_id, status: stored |
duplicate} once the event is stored, or error {code, message, event_id?}. Error codes in
PERMANENT_ERRORS can never succeed on a resend (the agent parks the event); any other code,
server_error above all, is transient (the agent reconnects and sends it again). A repeat of
an event id with other content (readings, time, pixels) is refused as event_conflict or
frame_conflict, never acked as a duplicate. config carries the device's slots and products
and `frame_max_bytes`, the largest JPEG the server takes (on connect, after hello, and
whenever they change): the agent shrinks frames to fit it. greet {name} tells a gate whom it
let in. Close codes: 4401 unknown token, 4403 revoked token, 4409 replaced by a newer
connection of the same device.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

VERSION = 2
# Versions the server accepts from agents (an agent is never forced to upgrade in step).
SUPPORTED_VERSIONS = (1, 2)
MAX_TEXT_BYTES = 64 * 1024
MAX_HEADER_BYTES = 4096
SENSORS = ("load_cell", "ultrasonic", "light")

# Bounds on what a device may claim (see check_bounds). Anything outside them is refused with
# a permanent code, so the agent parks it instead of resending it forever.
# 2020-01-01: a Pi without a real-time clock that has not reached a time server reads 1970.
MIN_TS = 1_577_836_800.0
# 2100-01-01: far enough for any real clock, near enough that every date library handles it.
MAX_TS = 4_102_444_800.0
# How far a device's clock may run ahead of the server's before its times are refused.
MAX_CLOCK_SKEW_S = 600.0
# Integers beyond this lose precision as floats (and a 400-digit one does not fit at all).
MAX_INT = 2**53
# Frame sequence numbers are stored as 64-bit integers.
MAX_SEQ = 2**63 - 1
# The largest websocket message the server takes by default (daphne's own default limit):
# a frame message (4 bytes + header + JPEG) must fit, so the JPEG gets what is left. The server
# tells the agent its real limit in `config` (`frame_max_bytes`).
DEFAULT_WS_MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULT_FRAME_MAX_BYTES = DEFAULT_WS_MAX_MESSAGE_BYTES - MAX_HEADER_BYTES - 4
DEVICE_KINDS = ("entry", "exit", "shelf")

# Websocket close codes sent by the server at connect.
CLOSE_UNKNOWN_TOKEN = 4401
CLOSE_REVOKED_TOKEN = 4403
CLOSE_PROTOCOL = 4400
# Another connection with the same token replaced this one (the agent reconnected before the
# server saw its old socket die).
CLOSE_SUPERSEDED = 4409

# Error codes (the "code" of an error message).
BAD_JSON = "bad_json"
BAD_MESSAGE = "bad_message"
UNKNOWN_TYPE = "unknown_type"
UNSUPPORTED_VERSION = "unsupported_version"
MESSAGE_TOO_LARGE = "message_too_large"
FRAME_TOO_LARGE = "frame_too_large"
FRAME_CORRUPT = "frame_corrupt"
FRAME_BAD_TYPE = "frame_bad_type"
FRAME_DIMENSIONS = "frame_dimensions"
UNKNOWN_SLOT = "unknown_slot"
IMPOSSIBLE_READING = "impossible_reading"
WRONG_DEVICE_KIND = "wrong_device_kind"
EVENT_CONFLICT = "event_conflict"
FRAME_CONFLICT = "frame_conflict"
# The device's clock is not set (before MIN_TS) or runs ahead of the server's by more than
# the allowed skew: the time of the event cannot be trusted to decide anything.
CLOCK_SKEW = "clock_skew"
SEES_NOT_ACCEPTED = "sees_not_accepted"
# The server could not store the message this time (database down, lock timeout): the agent
# keeps it and sends it again after reconnecting.
SERVER_ERROR = "server_error"

# Errors about one event that sending it again can never fix. The agent parks such an event
# (keeps it on disk, out of the send queue) instead of blocking its outbox behind it. Every
# other code, and any code this version does not know, counts as transient: keep and retry.
PERMANENT_ERRORS = frozenset(
    {
        BAD_JSON,
        BAD_MESSAGE,
        UNKNOWN_TYPE,
        UNSUPPORTED_VERSION,
        MESSAGE_TOO_LARGE,
        FRAME_TOO_LARGE,
        FRAME_CORRUPT,
        FRAME_BAD_TYPE,
        FRAME_DIMENSIONS,
        UNKNOWN_SLOT,
        IMPOSSIBLE_READING,
        WRONG_DEVICE_KIND,
        EVENT_CONFLICT,
        FRAME_CONFLICT,
        CLOCK_SKEW,
        SEES_NOT_ACCEPTED,
    }
)


class ProtocolError(ValueError):
    def __init__(self, code: str, message: str, event_id: str | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.event_id = event_id


def _require(msg: dict[str, Any], key: str, kinds: type | tuple[type, ...]) -> Any:
    if key not in msg:
        raise ProtocolError(BAD_MESSAGE, f"'{key}' is missing", msg.get("event_id"))
    value = msg[key]
    # bool is an int in Python; a boolean where a number belongs is a wrong type.
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ProtocolError(BAD_MESSAGE, f"'{key}' has the wrong type", msg.get("event_id"))
    if not isinstance(value, kinds):
        raise ProtocolError(BAD_MESSAGE, f"'{key}' has the wrong type", msg.get("event_id"))
    return value


def _number(msg: dict[str, Any], key: str) -> float:
    raw = _require(msg, key, (int, float))
    if isinstance(raw, int) and abs(raw) > MAX_INT:
        # A 400-digit integer does not even fit a float: refuse it before converting.
        raise ProtocolError(IMPOSSIBLE_READING, f"'{key}' is out of range", msg.get("event_id"))
    value = float(raw)
    if not math.isfinite(value):
        raise ProtocolError(IMPOSSIBLE_READING, f"'{key}' is not finite", msg.get("event_id"))
    return value


def _event_id(msg: dict[str, Any]) -> str:
    event_id = _require(msg, "event_id", str)
    if not 1 <= len(event_id) <= 64 or not event_id.isprintable():
        raise ProtocolError(BAD_MESSAGE, "'event_id' must be 1 to 64 printable characters")
    return event_id


def _printable(text: str) -> str:
    """Free text from a device without control characters (PostgreSQL refuses a NUL in text;
    the rest would only garble logs and pages)."""
    return "".join(ch for ch in text if ch.isprintable())


def _timestamp(msg: dict[str, Any]) -> float:
    ts = _number(msg, "ts")
    if ts <= 0:
        raise ProtocolError(BAD_MESSAGE, "'ts' must be a positive Unix time", msg.get("event_id"))
    return ts


def validate(msg: Any) -> dict[str, Any]:
    """Check a decoded device → server message; returns a clean copy or raises ProtocolError."""
    if not isinstance(msg, dict):
        raise ProtocolError(BAD_MESSAGE, "a message is a JSON object")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(BAD_MESSAGE, "'type' is missing")
    version = msg.get("v", VERSION)
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            UNSUPPORTED_VERSION, f"protocol version {version!r} is not one of {SUPPORTED_VERSIONS}"
        )
    if kind == "hello":
        device_kind = _require(msg, "kind", str)
        if device_kind not in DEVICE_KINDS:
            raise ProtocolError(BAD_MESSAGE, f"'kind' must be one of {DEVICE_KINDS}")
        return {
            "type": "hello",
            "device": _require(msg, "device", str)[:64],
            "kind": device_kind,
            "software": _printable(str(msg.get("software", "")))[:40],
            "v": version,
        }
    if kind == "heartbeat":
        ts = _timestamp(msg)
        watermark = None
        if version >= 2 and msg.get("watermark") is not None:
            watermark = _number(msg, "watermark")
            if watermark <= 0:
                raise ProtocolError(BAD_MESSAGE, "'watermark' must be a positive Unix time")
        elif version < 2:
            watermark = ts
        return {"type": "heartbeat", "ts": ts, "watermark": watermark, "v": version}
    if kind == "shelf_event":
        event_id = _event_id(msg)
        sensor = _require(msg, "sensor", str)
        if sensor not in SENSORS:
            raise ProtocolError(BAD_MESSAGE, f"'sensor' must be one of {SENSORS}", event_id)
        slot = _require(msg, "slot", str)
        if not 1 <= len(slot) <= 32 or not slot.isprintable():
            raise ProtocolError(
                BAD_MESSAGE, "'slot' must be 1 to 32 printable characters", event_id
            )
        before, after = _number(msg, "before"), _number(msg, "after")
        if sensor == "light" and {before, after} - {0.0, 1.0}:
            raise ProtocolError(IMPOSSIBLE_READING, "a light sensor reads 0 or 1", event_id)
        if before < 0 or after < 0 or max(before, after) > 1_000_000:
            raise ProtocolError(IMPOSSIBLE_READING, "reading out of the sensor's range", event_id)
        return {
            "type": "shelf_event",
            "event_id": event_id,
            "slot": slot,
            "sensor": sensor,
            "before": before,
            "after": after,
            "ts": _timestamp(msg),
        }
    raise ProtocolError(UNKNOWN_TYPE, f"unknown message type {kind!r}", msg.get("event_id"))


def _loads(data: str | bytes, what: str) -> Any:
    """json.loads that turns every way a hostile document can fail (bad syntax, a number with
    thousands of digits, nesting deep enough to exhaust the stack) into BAD_JSON."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(BAD_JSON, f"{what} is not valid JSON") from None
    except RecursionError:
        raise ProtocolError(BAD_JSON, f"{what} is nested too deeply") from None


def parse_text(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_TEXT_BYTES:
        raise ProtocolError(MESSAGE_TOO_LARGE, f"text messages are at most {MAX_TEXT_BYTES} bytes")
    return validate(_loads(text, "the message"))


def encode_frame(
    *, event_id: str, ts: float, jpeg: bytes, camera: str = "0", seq: int = 0, **extra: Any
) -> bytes:
    header = {
        "type": "frame",
        "v": VERSION,
        "event_id": event_id,
        "ts": ts,
        "camera": camera,
        "seq": seq,
        **extra,
    }
    raw = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(raw)) + raw + jpeg


def decode_frame(data: bytes, *, max_bytes: int) -> tuple[dict[str, Any], bytes]:
    """Split a binary frame message into its checked header and image bytes."""
    if len(data) > max_bytes + MAX_HEADER_BYTES + 4:
        raise ProtocolError(FRAME_TOO_LARGE, f"frames are at most {max_bytes} bytes")
    if len(data) < 4:
        raise ProtocolError(BAD_MESSAGE, "a frame message starts with a 4-byte header length")
    (size,) = struct.unpack(">I", data[:4])
    if size == 0 or size > MAX_HEADER_BYTES or 4 + size > len(data):
        raise ProtocolError(BAD_MESSAGE, "the frame header length is out of range")
    header = _loads(data[4 : 4 + size], "the frame header")
    if not isinstance(header, dict) or header.get("type") != "frame":
        raise ProtocolError(BAD_MESSAGE, "the frame header must have type 'frame'")
    if header.get("v", VERSION) not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            UNSUPPORTED_VERSION, f"protocol version is not one of {SUPPORTED_VERSIONS}"
        )
    event_id = _event_id(header)
    seq = header.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise ProtocolError(BAD_MESSAGE, f"'seq' must be an integer from 0 to {MAX_SEQ}", event_id)
    image = data[4 + size :]
    if len(image) > max_bytes:
        raise ProtocolError(FRAME_TOO_LARGE, f"frames are at most {max_bytes} bytes", event_id)
    clean = {
        "type": "frame",
        "event_id": event_id,
        "ts": _timestamp(header),
        "camera": _printable(str(header.get("camera", "0")))[:32] or "0",
        "seq": seq,
    }
    if "sees" in header:
        # What a synthetic camera "sees" (scenario replay). Passed on as sent; the server
        # refuses it unless replay is configured (MINIGO_ACCEPT_SEES).
        if not isinstance(header["sees"], dict):
            raise ProtocolError(BAD_MESSAGE, "'sees' must be an object", event_id)
        clean["sees"] = header["sees"]
    return clean, image


# --- bounds the server checks with its own clock -------------------------------------------
def check_bounds(msg: dict[str, Any], *, now: float, max_skew_s: float = MAX_CLOCK_SKEW_S) -> None:
    """Refuse a validated shelf_event or frame header whose time no real clock reads (a Pi
    that never reached a time server reads 1970; 1e12 is the year 33658) or that lies further
    ahead of the server's clock (`now`) than `max_skew_s`: deciding with it would put the
    event after visits that have not happened yet. Checked by the server only: an agent
    with a wrong clock still queues its events, so nothing is lost. A permanent error, so the
    agent parks the event (`outbox --requeue` sends it again once the device's clock is
    fixed)."""
    ts = msg.get("ts")
    if not isinstance(ts, float | int):
        return
    if not MIN_TS <= ts <= MAX_TS:
        raise ProtocolError(
            CLOCK_SKEW,
            f"'ts' {ts:.0f} is not a time this device can have read: is its clock set?",
            msg.get("event_id"),
        )
    if ts > now + max_skew_s:
        raise ProtocolError(
            CLOCK_SKEW,
            f"'ts' is {ts - now:.0f} s ahead of the server's clock (at most {max_skew_s:.0f})",
            msg.get("event_id"),
        )


def check_watermark(msg: dict[str, Any]) -> None:
    """A heartbeat's watermark must be a time a clock can read (one merely ahead of the
    server's clock is clamped to it by the server; 1e12 is the year 33658)."""
    watermark = msg.get("watermark")
    if isinstance(watermark, float | int) and not MIN_TS <= watermark <= MAX_TS:
        raise ProtocolError(
            CLOCK_SKEW, f"'watermark' {watermark:.0f} is not a time this device can have read"
        )


def frame_fits(data: bytes, *, max_bytes: int) -> bool:
    """Whether a frame message (as encode_frame builds it) is within a server's frame limit."""
    if len(data) < 4:
        return False
    (size,) = struct.unpack(">I", data[:4])
    return len(data) - 4 - size <= max_bytes


# --- device → server builders (the agent's side) -----------------------------------------------
def hello(*, device: str, kind: str, software: str) -> dict[str, Any]:
    return {"type": "hello", "v": VERSION, "device": device, "kind": kind, "software": software}


def heartbeat(*, ts: float, watermark: float | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "heartbeat", "v": VERSION, "ts": ts}
    if watermark is not None:
        msg["watermark"] = watermark
    return msg


def shelf_event(
    *, event_id: str, slot: str, sensor: str, before: float, after: float, ts: float
) -> dict[str, Any]:
    msg = {
        "type": "shelf_event",
        "v": VERSION,
        "event_id": event_id,
        "slot": slot,
        "sensor": sensor,
        "before": before,
        "after": after,
        "ts": ts,
    }
    validate(msg)  # an agent never queues a message the server would refuse as malformed
    return msg


# --- server → device ------------------------------------------------------------------------
def ack(event_id: str, status: str = "stored") -> dict[str, Any]:
    """`status` is "stored" for a new event and "duplicate" for one already stored."""
    return {"type": "ack", "v": VERSION, "event_id": event_id, "status": status}


def error(code: str, message: str, event_id: str | None = None) -> dict[str, Any]:
    msg = {"type": "error", "v": VERSION, "code": code, "message": message}
    if event_id is not None:
        msg["event_id"] = event_id
    return msg


def greet(name: str) -> dict[str, Any]:
    """Sent to a gate device when it let a shopper in (or out): the agent greets them."""
    return {"type": "greet", "v": VERSION, "name": name}


SERVER_TYPES = ("ack", "error", "config", "greet", "revoked", "heartbeat_ack", "sync")


def parse_server(text: str | bytes) -> dict[str, Any]:
    """Decode a server → device message on the agent. Unknown types are returned as they are
    (a newer server may send more); the agent ignores what it does not understand."""
    msg = _loads(text, "the server message")
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError(BAD_MESSAGE, "a server message is a JSON object with a 'type'")
    return msg


def is_permanent(code: str) -> bool:
    return code in PERMANENT_ERRORS


def dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"))
