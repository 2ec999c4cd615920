"""minigo-agent (or python -m edge_agent) --config agent.toml [run | calibrate | outbox]

run        (default) read the sensors and cameras, send to the server, keep an outbox
calibrate  load-cell calibration: tare the empty shelf, then weigh a known weight
outbox     show what waits in the outbox and what was parked; --requeue sends parked again
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import statistics
import sys
from collections.abc import Callable

from edge_agent.config import ConfigError, load

log = logging.getLogger("edge_agent")


def calibrate(
    *,
    read_raw: Callable[[], float | None],
    known_grams: float,
    samples: int = 30,
    ask: Callable[[str], str] = input,
) -> tuple[float, float]:
    """Returns (offset, scale) so that grams = (raw - offset) / scale."""
    if known_grams <= 0:
        raise ValueError("the known weight must be positive")

    def average() -> float:
        values = [v for v in (read_raw() for _ in range(samples)) if v is not None]
        if len(values) < samples // 2:
            raise OSError("the load cell gave too few readings; check its wiring")
        return statistics.median(values)

    ask("Empty the shelf (slot) and press Enter to tare… ")
    offset = average()
    ask(f"Put {known_grams:g} g on it and press Enter… ")
    loaded = average()
    scale = (loaded - offset) / known_grams
    if abs(scale) < 1e-6:
        raise ValueError("the reading did not change under the weight; check the wiring")
    return offset, scale


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from edge_agent.sensors import HX711LoadCell

    config = load(args.config)
    matches = [s for s in config.sensors if s.type == "hx711" and s.slot == args.slot]
    if not matches:
        print(f"no hx711 sensor for slot {args.slot!r} in {args.config}", file=sys.stderr)
        return 2
    opts = matches[0].options
    cell = HX711LoadCell(
        dout_pin=int(opts["dout_pin"]),
        sck_pin=int(opts["sck_pin"]),
        gain=int(opts.get("gain", 128)),
        channel=str(opts.get("channel", "A")),
        timeout_s=float(opts.get("timeout_s", 2.0)),
    )
    if not cell.bounded.answering:  # its reset timed out (and said so): 30 reads would too
        cell.close()
        print(
            f"the load cell of slot {args.slot} is not answering; check its wiring", file=sys.stderr
        )
        return 1
    try:
        offset, scale = calibrate(read_raw=cell.read_raw, known_grams=args.grams)
    finally:
        cell.close()
    print(f"\nPut these in the [[sensors]] table of slot {args.slot}:")
    print(f"offset = {offset:.1f}\nscale = {scale:.6f}")
    return 0


def _cmd_outbox(args: argparse.Namespace) -> int:
    from edge_agent.outbox import Outbox

    config = load(args.config)
    outbox = Outbox(config.outbox.path, max_bytes=int(config.outbox.max_mb * 1024 * 1024))
    if args.requeue:
        print(f"requeued {outbox.requeue_parked()} parked item(s)")
    print(outbox.stats())
    for event_id, kind, code, message in outbox.parked():
        print(f"parked {kind} {event_id}: {code} {message}")
    outbox.close()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from edge_agent.agent import Agent

    agent = Agent(load(args.config))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    asyncio.run(main())
    return 0


def main(argv: list[str] | None = None) -> int:
    # Installed, the agent runs as the `minigo-agent` script; from a checkout, as a module.
    prog = "python -m edge_agent" if sys.argv[0].endswith("__main__.py") else None
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="the agent's TOML file")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the agent (the default)")
    cal = sub.add_parser("calibrate", help="calibrate one load cell")
    cal.add_argument("--slot", required=True)
    cal.add_argument("--grams", type=float, required=True, help="the known weight, in grams")
    box = sub.add_parser("outbox", help="show the outbox")
    box.add_argument("--requeue", action="store_true", help="send parked items again")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    command = {"calibrate": _cmd_calibrate, "outbox": _cmd_outbox}.get(args.command, _cmd_run)
    try:
        return command(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG: systemd does not restart on it (see minigo-agent.service)


if __name__ == "__main__":
    sys.exit(main())
