"""The agent: sensors and cameras feed the outbox in their own threads; the link drains it.

Sensors are sampled at `hz`; each slot's readings go through a StableDetector, and a settled
change becomes one shelf_event in the outbox. Cameras run at `fps`; a frame goes out when
the picture changed (motion gating), and every frame goes out while a hand is at the shelf
and for `after_event_s` after a shelf event, plus the frames of the `before_event_s` before
it, kept in a small ring buffer. Frames around an event are pinned in the outbox (kept
longer than idle frames when disk runs short).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent import protocol
from edge_agent.config import SENSOR_DEFAULTS, AgentConfig, CameraConfig, SensorConfig
from edge_agent.greet import Greeter
from edge_agent.outbox import EVENT, FRAME, Outbox
from edge_agent.stable import Change, StableDetector, StableSettings, items_in_lane

log = logging.getLogger(__name__)


def new_boot_id() -> str:
    """Makes event ids unique across restarts without keeping a counter on disk."""
    return f"{int(time.time()):x}{secrets.token_hex(2)}"


class SlotWatcher:
    def __init__(self, cfg: SensorConfig, sensor: Any, on_change: Callable[[Any, Change], None]):
        self.cfg, self.sensor, self.on_change = cfg, sensor, on_change
        noise, settle, min_change = SENSOR_DEFAULTS[cfg.sensor]
        self.detector = StableDetector(
            StableSettings(
                window=cfg.window,
                noise=cfg.noise if cfg.noise is not None else noise,
                settle_s=cfg.settle_s if cfg.settle_s is not None else settle,
                min_change=cfg.min_change if cfg.min_change is not None else min_change,
            )
        )

    def use_slot_config(self, slot: dict[str, Any]) -> None:
        """Half an item is the smallest change worth an event, when the config does not say."""
        if self.cfg.min_change is not None:
            return
        half = None
        if self.cfg.sensor == "load_cell" and slot.get("unit_weight_g"):
            half = float(slot["unit_weight_g"]) / 2
        elif self.cfg.sensor == "ultrasonic" and slot.get("item_depth_mm"):
            half = float(slot["item_depth_mm"]) / 2
        if half and half > self.detector.settings.noise:
            self.detector.settings = dataclasses.replace(self.detector.settings, min_change=half)

    def step(self) -> Change | None:
        value = self.sensor.read()
        if value is None:
            return None
        ts = getattr(self.sensor, "last_ts", None) or time.time()
        change = self.detector.feed(ts, value)
        if change is not None:
            self.on_change(self, change)
        return change

    def run(self, stop: threading.Event) -> None:
        interval = 1.0 / self.cfg.hz if self.cfg.hz > 0 else 0.0
        if getattr(self.sensor, "realtime", True) is False:
            interval = 0.0  # a recording played as fast as it can be read
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("reading slot %s failed", self.cfg.slot)
                stop.wait(1.0)
            if getattr(self.sensor, "finished", False):
                log.info("slot %s: the recording has ended", self.cfg.slot)
                return
            if interval:
                stop.wait(interval)


class CameraWorker:
    def __init__(self, cfg: CameraConfig, camera: Any, agent: Agent):
        from edge_agent.cameras import MotionGate, RateLimiter

        self.cfg, self.camera, self.agent = cfg, camera, agent
        self.motion = MotionGate(threshold=cfg.motion_threshold)
        self.limiter = RateLimiter(cfg.fps)
        held = max(1, int(cfg.before_event_s * cfg.fps))
        self.ring: deque[tuple[float, Any]] = deque(maxlen=held)
        self.lock = threading.Lock()
        self.seq = 0
        self.sent = 0

    def _queue(self, image: Any, ts: float, *, pinned: bool) -> None:
        from edge_agent.cameras import encode_jpeg_within

        # Shrunk to what the server takes: a frame over its limit would only be refused, and
        # the sightings in it lost.
        jpeg = encode_jpeg_within(
            image,
            max_bytes=self.agent.frame_limit,
            quality=self.cfg.jpeg_quality,
            max_side=self.cfg.max_side,
        )
        if jpeg is None:
            log.warning(
                "camera %s: a frame does not fit in %d bytes even at its smallest; skipped",
                self.cfg.name,
                self.agent.frame_limit,
            )
            return
        self.seq += 1
        event_id = f"f-{self.agent.boot}-{self.cfg.name}-{self.seq}"
        data = protocol.encode_frame(
            event_id=event_id, ts=ts, jpeg=jpeg, camera=self.cfg.name, seq=self.seq
        )
        self.agent.outbox.add(event_id=event_id, kind=FRAME, payload=data, pinned=pinned)
        self.sent += 1
        self.agent.wake()

    def step(self) -> bool:
        """Grab and maybe queue one frame; False when the source has ended."""
        image = self.camera.grab()
        if image is None:
            return False
        ts = time.time()
        with self.lock:
            if self.agent.hand_at_shelf(ts):
                self._queue(image, ts, pinned=True)
                self.motion.sent(image)
            elif self.motion.changed(image):
                self._queue(image, ts, pinned=False)
            else:
                self.ring.append((ts, image))
        return True

    def around_event(self, ts: float) -> None:
        """A shelf event settled at `ts`: send the held frames from just before it."""
        since = ts - self.cfg.before_event_s
        with self.lock:
            for frame_ts, image in self.ring:
                if frame_ts >= since:
                    self._queue(image, frame_ts, pinned=True)
            self.ring.clear()
        self.agent.outbox.pin_frames_since(since)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.limiter.wait(stop)
            try:
                if not self.step():
                    if self.cfg.type == "folder":
                        log.info("camera %s: no more images", self.cfg.name)
                        return
                    stop.wait(1.0)  # a dropped stream: give it a moment
            except Exception:
                log.exception("camera %s failed", self.cfg.name)
                stop.wait(2.0)


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        sensors: dict[str, Any] | None = None,
        cameras: dict[str, Any] | None = None,
        outbox: Outbox | None = None,
    ):
        from edge_agent.sensors import build_sensor

        self.config = config
        self.boot = new_boot_id()
        self.outbox = outbox or Outbox(
            config.outbox.path, max_bytes=int(config.outbox.max_mb * 1024 * 1024)
        )
        self.greeter = Greeter(
            screen=config.greet.screen, tts=config.greet.tts, template=config.greet.template
        )
        self.link: Any = None
        self._counter = 0
        self._count_lock = threading.Lock()
        self._last_event_ts = 0.0
        self.watchers = []
        for cfg in config.sensors:
            sensor = (sensors or {}).get(cfg.slot)
            sensor = sensor or build_sensor({"type": cfg.type, **cfg.options})
            self.watchers.append(SlotWatcher(cfg, sensor, self._on_change))
        self.camera_workers = []
        for cfg in config.cameras:
            from edge_agent.cameras import build_camera

            camera = (cameras or {}).get(cfg.name)
            camera = camera or build_camera({"type": cfg.type, **cfg.options})
            self.camera_workers.append(CameraWorker(cfg, camera, self))
        self.slots: dict[str, dict[str, Any]] = {}
        # The largest JPEG the server takes; its config says (and is saved for offline starts).
        self.frame_max_bytes = protocol.DEFAULT_FRAME_MAX_BYTES
        self._load_saved_config()

    # --- events ----------------------------------------------------------------------------
    def _on_change(self, watcher: SlotWatcher, change: Change) -> None:
        with self._count_lock:
            self._counter += 1
            event_id = f"e-{self.boot}-{self._counter}"
        msg = protocol.shelf_event(
            event_id=event_id,
            slot=watcher.cfg.slot,
            sensor=watcher.cfg.sensor,
            before=round(change.before, 2),
            after=round(change.after, 2),
            ts=change.ts,
        )
        self.outbox.add(event_id=event_id, kind=EVENT, payload=protocol.dumps(msg))
        self._last_event_ts = change.ts
        log.info(
            "slot %s: %s %.1f → %.1f%s (%s)",
            watcher.cfg.slot,
            watcher.cfg.sensor,
            change.before,
            change.after,
            self._items_note(watcher.cfg.slot, change),
            event_id,
        )
        for worker in self.camera_workers:
            worker.around_event(change.ts)
        self.wake()

    def _items_note(self, slot: str, change: Change) -> str:
        """For an ultrasonic lane of known depth, the item counts (the server counts again
        from the distances; this is for the log)."""
        lane = self.slots.get(slot, {})
        if not lane.get("lane_depth_mm") or not lane.get("item_depth_mm"):
            return ""
        depth = {"lane_depth_mm": lane["lane_depth_mm"], "item_depth_mm": lane["item_depth_mm"]}
        before = items_in_lane(change.before, **depth)
        after = items_in_lane(change.after, **depth)
        return f" mm, {before} → {after} items"

    def hand_at_shelf(self, ts: float) -> bool:
        after = max((c.after_event_s for c in self.config.cameras), default=0.0)
        if ts - self._last_event_ts <= after:
            return True
        return any(w.detector.settling for w in self.watchers)

    def wake(self) -> None:
        if self.link is not None:
            self.link.wake()

    # --- server config ---------------------------------------------------------------------
    @property
    def _config_path(self) -> Path:
        return self.config.state_dir / "server-config.json"

    def _load_saved_config(self) -> None:
        try:
            saved = json.loads(self._config_path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(saved, dict):
            self._use_slots(saved.get("slots", []))
            self._use_frame_limit(saved.get("frame_max_bytes"))

    def _use_frame_limit(self, limit: Any) -> None:
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1024:
            self.frame_max_bytes = limit

    @property
    def frame_limit(self) -> int:
        """The largest JPEG to encode: the server's limit, lowered by the link if the server
        was seen to drop the connection at a smaller frame."""
        if self.link is None:
            return self.frame_max_bytes
        return min(self.frame_max_bytes, self.link.frame_max_bytes)

    def on_config(self, msg: dict[str, Any]) -> None:
        """Keep this shelf's slots (saved, so a restart while offline still knows them)."""
        slots = msg.get("slots") if isinstance(msg.get("slots"), list) else []
        self._use_slots(slots)
        self._use_frame_limit(msg.get("frame_max_bytes"))
        try:
            self._config_path.parent.mkdir(parents=True, exist_ok=True)
            saved = {"slots": slots, "frame_max_bytes": self.frame_max_bytes}
            self._config_path.write_text(json.dumps(saved, indent=1))
        except OSError as exc:
            log.warning("cannot save the server config: %s", exc)
        known = set(self.slots)
        for w in self.watchers:
            if known and w.cfg.slot not in known:
                log.warning("slot %s is not in the server's planogram", w.cfg.slot)

    def _use_slots(self, slots: list[Any]) -> None:
        self.slots = {s["slot"]: s for s in slots if isinstance(s, dict) and "slot" in s}
        for w in self.watchers:
            if w.cfg.slot in self.slots:
                w.use_slot_config(self.slots[w.cfg.slot])

    # --- running ---------------------------------------------------------------------------
    def make_link(self) -> Any:
        from edge_agent.client import Link

        s = self.config.server
        self.link = Link(
            url=s.url,
            token=s.token,
            device=s.device,
            kind=s.kind,
            outbox=self.outbox,
            on_config=self.on_config,
            on_greet=self.greeter.greet,
            heartbeat_s=s.heartbeat_s,
            backoff_min_s=s.backoff_min_s,
            backoff_max_s=s.backoff_max_s,
            window=s.window,
            ack_timeout_s=s.ack_timeout_s,
            frame_max_bytes=self.frame_max_bytes,
        )
        return self.link

    async def run(self, stop: asyncio.Event) -> None:
        link = self.make_link()
        halt = threading.Event()
        threads = [
            threading.Thread(target=w.run, args=(halt,), name=f"slot-{w.cfg.slot}", daemon=True)
            for w in self.watchers
        ] + [
            threading.Thread(target=c.run, args=(halt,), name=f"camera-{c.cfg.name}", daemon=True)
            for c in self.camera_workers
        ]
        for thread in threads:
            thread.start()
        log.info(
            "agent %s (%s): %d slot(s), %d camera(s), outbox %s",
            self.config.server.device,
            self.config.server.kind,
            len(self.watchers),
            len(self.camera_workers),
            self.outbox.stats(),
        )
        try:
            await link.run(stop)
        finally:
            halt.set()
            for thread in threads:
                thread.join(timeout=5)
            for w in self.watchers:
                w.sensor.close()
            for c in self.camera_workers:
                c.camera.close()
            self.outbox.close()
