"""Greeting shoppers at the gate: the name on the gate's screen and, if the Pi has a speaker
and espeak-ng (or espeak) is installed, out loud.

Plain Python, no third-party imports. The hook for the agent's receive loop:

    greeter = Greeter.from_config(config.get("greeter", {}))
    ...
    msg = json.loads(text)
    if msg.get("type") == "greet":
        greeter.handle(msg)

The server sends `greet` when it lets someone in or out:
    {"type": "greet", "v": 1, "name": "Kit", "visit": 12, "kind": "entry", "text": "Welcome, Kit!"}
    {"type": "greet", "v": 1, "name": "Kit", "visit": 12, "kind": "exit", "receipt": "R-...",
     "total": "3.00", "currency": "EUR", "text": "Goodbye, Kit! Total 3.00 EUR."}

Config (the [greeter] table of agent.toml, every key optional):
    screen = "-"            # "-" for stdout, or a file / tty path (e.g. "/dev/tty1")
    speak = true            # speak the greeting when espeak-ng/espeak is on the PATH
    voice = "en"            # espeak voice
    command = ""            # another TTS program instead, given the text as its last argument
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

log = logging.getLogger(__name__)

MAX_NAME = 60


def greeting_text(msg: dict[str, Any]) -> str:
    """The line to show and say. The server's "text" wins; otherwise built from the name."""
    name = _clean(str(msg.get("name") or ""))[:MAX_NAME]
    text = _clean(str(msg.get("text") or ""))[:200]
    if text:
        return text
    if msg.get("kind") == "exit":
        return f"Goodbye, {name}!" if name else "Goodbye!"
    return f"Welcome, {name}!" if name else "Welcome!"


def _clean(text: str) -> str:
    # A name is shown on a terminal: no escape sequences or control characters.
    return "".join(ch for ch in text if ch.isprintable()).strip()


def find_speaker() -> list[str] | None:
    for program in ("espeak-ng", "espeak"):
        path = shutil.which(program)
        if path:
            return [path]
    return None


class Greeter:
    def __init__(
        self,
        *,
        screen: TextIO | str = "-",
        speak: bool = True,
        voice: str = "en",
        command: list[str] | None = None,
        runner: Callable[[list[str]], Any] | None = None,
    ):
        self._screen = screen
        self._voice = voice
        self._speaker = command or (find_speaker() if speak else None)
        if command is None and self._speaker is not None:
            self._speaker = [*self._speaker, "-v", voice]
        self._run = runner or _spawn
        self._speaking: list[Any] = []
        self.last: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Greeter:
        command = config.get("command") or None
        return cls(
            screen=str(config.get("screen", "-")),
            speak=bool(config.get("speak", True)),
            voice=str(config.get("voice", "en")),
            command=command.split() if isinstance(command, str) else command,
        )

    @property
    def speaks(self) -> bool:
        return self._speaker is not None

    def handle(self, msg: dict[str, Any]) -> str | None:
        """Show (and say) a greet message; other message types are ignored. Never raises: a
        broken screen or speaker must not stop the agent from sending frames."""
        if msg.get("type") != "greet":
            return None
        text = greeting_text(msg)
        self.last = text
        try:
            self._show(text)
        except OSError:
            log.exception("could not show the greeting")
        if self._speaker is not None:
            # Reap finished speech processes so none is left as a zombie.
            self._speaking = [p for p in self._speaking if getattr(p, "poll", lambda: 0)() is None]
            try:
                self._speaking.append(self._run([*self._speaker, text]))
            except OSError:
                log.exception("could not speak the greeting")
        return text

    def _show(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')}  {text}\n"
        if self._screen == "-":
            sys.stdout.write(line)
            sys.stdout.flush()
        elif isinstance(self._screen, str):
            with open(self._screen, "a", encoding="utf-8") as out:
                out.write(line)
        else:
            self._screen.write(line)
            self._screen.flush()
        log.info("greeted: %s", text)


def _spawn(argv: list[str]) -> subprocess.Popen:
    # Fire and forget: speech takes a second or two and must not hold up the receive loop.
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
