"""The agent's config file (TOML, read with the standard library's tomllib).

See edge_agent/agent.example.toml for every key. A bad value stops the agent at start-up with
a message naming the key, rather than running a shelf that silently misreads.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent import protocol


class ConfigError(ValueError):
    pass


@dataclass
class ServerConfig:
    url: str
    token: str
    device: str
    kind: str
    heartbeat_s: float = 15.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    window: int = 32  # messages sent ahead of their acks
    ack_timeout_s: float = 30.0


@dataclass
class OutboxConfig:
    path: str = "/var/lib/minigo-agent/outbox.sqlite3"
    max_mb: float = 200.0


@dataclass
class SensorConfig:
    slot: str
    type: str  # hx711 | hcsr04 | light | replay
    sensor: str  # the protocol's kind: load_cell | ultrasonic | light
    hz: float = 10.0
    window: int = 5
    noise: float | None = None
    settle_s: float | None = None
    min_change: float | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class CameraConfig:
    name: str = "0"
    type: str = "auto"
    fps: float = 2.0
    jpeg_quality: int = 80
    max_side: int = 1280
    motion_threshold: float = 0.02
    before_event_s: float = 2.0
    after_event_s: float = 2.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GreetConfig:
    screen: str = ""  # a file to write greetings to, e.g. /dev/tty1; empty: the log only
    tts: bool = False  # speak with espeak-ng / espeak when installed
    template: str = "Hello {name}!"


@dataclass
class AgentConfig:
    server: ServerConfig
    outbox: OutboxConfig
    sensors: list[SensorConfig]
    cameras: list[CameraConfig]
    greet: GreetConfig
    path: Path | None = None

    @property
    def state_dir(self) -> Path:
        return Path(self.outbox.path).parent


# Defaults per protocol sensor kind: (noise, settle seconds, smallest change).
SENSOR_DEFAULTS = {
    "load_cell": (4.0, 0.8, 10.0),
    "ultrasonic": (8.0, 0.8, 20.0),
    "light": (0.4, 0.3, 0.5),
}


def _take(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}.{key} is missing")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key} must be a {kind.__name__}, got {value!r}")
    return value


def _known(table: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if k not in fields}


def parse(data: dict[str, Any], *, base: Path | None = None) -> AgentConfig:
    s = data.get("server")
    if not isinstance(s, dict):
        raise ConfigError("[server] is missing")
    token = _take(s, "token", str, "server", "")
    if not token and "token_file" in s:
        token = Path(_take(s, "token_file", str, "server")).read_text().strip()
    if not token:
        raise ConfigError("server.token (or server.token_file) is missing")
    kind = _take(s, "kind", str, "server")
    if kind not in protocol.DEVICE_KINDS:
        raise ConfigError(f"server.kind must be one of {protocol.DEVICE_KINDS}")
    url = _take(s, "url", str, "server")
    if not url.startswith(("ws://", "wss://")):
        raise ConfigError("server.url must start with ws:// or wss://")
    server = ServerConfig(
        url=url,
        token=token,
        device=_take(s, "device", str, "server"),
        kind=kind,
        heartbeat_s=_take(s, "heartbeat_s", float, "server", 15.0),
        backoff_min_s=_take(s, "backoff_min_s", float, "server", 1.0),
        backoff_max_s=_take(s, "backoff_max_s", float, "server", 60.0),
        window=_take(s, "window", int, "server", 32),
        ack_timeout_s=_take(s, "ack_timeout_s", float, "server", 30.0),
    )
    if server.window < 1 or not 0 < server.backoff_min_s <= server.backoff_max_s:
        raise ConfigError("server.window must be ≥ 1 and 0 < backoff_min_s ≤ backoff_max_s")

    o = data.get("outbox", {})
    outbox_path = _take(o, "path", str, "outbox", OutboxConfig.path)
    if base is not None and not Path(outbox_path).is_absolute():
        outbox_path = str(base / outbox_path)
    outbox = OutboxConfig(path=outbox_path, max_mb=_take(o, "max_mb", float, "outbox", 200.0))

    sensors = []
    for i, t in enumerate(data.get("sensors", [])):
        where = f"sensors[{i}]"
        stype = _take(t, "type", str, where)
        from edge_agent.sensors import PROTOCOL_SENSOR

        sensor_kind = PROTOCOL_SENSOR.get(stype) or _take(t, "sensor", str, where, "load_cell")
        if sensor_kind not in protocol.SENSORS:
            raise ConfigError(f"{where}.sensor must be one of {protocol.SENSORS}")
        if stype == "replay" and base is not None and "file" in t:
            t = {**t, "file": str(base / t["file"])}
        known = {"slot", "type", "sensor", "hz", "window", "noise", "settle_s", "min_change"}
        sensors.append(
            SensorConfig(
                slot=_take(t, "slot", str, where),
                type=stype,
                sensor=sensor_kind,
                hz=_take(t, "hz", float, where, 10.0),
                window=_take(t, "window", int, where, 5),
                noise=_take(t, "noise", float, where, None),
                settle_s=_take(t, "settle_s", float, where, None),
                min_change=_take(t, "min_change", float, where, None),
                options=_known(t, known),
            )
        )
    if kind == "shelf" and not sensors:
        raise ConfigError("a shelf needs at least one [[sensors]] table")

    cameras = []
    for i, t in enumerate(data.get("cameras", [])):
        where = f"cameras[{i}]"
        known = {
            "name",
            "type",
            "fps",
            "jpeg_quality",
            "max_side",
            "motion_threshold",
            "before_event_s",
            "after_event_s",
        }
        cam = CameraConfig(
            name=_take(t, "name", str, where, str(i)),
            type=_take(t, "type", str, where, "auto"),
            fps=_take(t, "fps", float, where, 2.0),
            jpeg_quality=_take(t, "jpeg_quality", int, where, 80),
            max_side=_take(t, "max_side", int, where, 1280),
            motion_threshold=_take(t, "motion_threshold", float, where, 0.02),
            before_event_s=_take(t, "before_event_s", float, where, 2.0),
            after_event_s=_take(t, "after_event_s", float, where, 2.0),
            options=_known(t, known),
        )
        if not 1 <= cam.jpeg_quality <= 100 or cam.fps <= 0:
            raise ConfigError(f"{where}: jpeg_quality is 1..100 and fps positive")
        if cam.type == "folder" and base is not None and "path" in cam.options:
            cam.options["path"] = str(base / cam.options["path"])
        cameras.append(cam)

    g = data.get("greet", {})
    greet = GreetConfig(
        screen=_take(g, "screen", str, "greet", ""),
        tts=_take(g, "tts", bool, "greet", False),
        template=_take(g, "template", str, "greet", "Hello {name}!"),
    )
    return AgentConfig(server=server, outbox=outbox, sensors=sensors, cameras=cameras, greet=greet)


def load(path: str | Path) -> AgentConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    config = parse(data, base=path.resolve().parent)
    config.path = path
    return config
