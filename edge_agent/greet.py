"""Greeting a shopper at a gate: the server sends {"type": "greet", "name": ...}.

`Greeter.greet(name, text=None)` is the hook; when the server sends its own wording (the exit
gate says goodbye and the total) that text is shown instead of the template. It logs the
greeting, writes it to the gate's screen (a file such as /dev/tty1 or a text file a kiosk
page shows, `[greet] screen`), and, with
`[greet] tts = true` and espeak-ng or espeak installed (`sudo apt install espeak-ng`), says it
out loud. It never blocks the link: speech runs in its own process. Other code can add
callables to `Greeter.hooks` to do more (a display, a door light).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable

log = logging.getLogger(__name__)


class Greeter:
    def __init__(self, *, screen: str = "", tts: bool = False, template: str = "Hello {name}!"):
        self.screen, self.template = screen, template
        self.speaker = (shutil.which("espeak-ng") or shutil.which("espeak")) if tts else None
        if tts and self.speaker is None:
            log.warning("greet.tts is on but neither espeak-ng nor espeak is installed")
        self.hooks: list[Callable[[str, str], None]] = []

    def text(self, name: str, server_text: str | None = None) -> str:
        # Names and texts come from the server; keep them to one printable line.
        if server_text:
            return "".join(c for c in server_text if c.isprintable())[:160].strip()
        clean = "".join(c for c in name if c.isprintable())[:60].strip() or "there"
        return self.template.format(name=clean)

    def greet(self, name: str, server_text: str | None = None) -> str:
        text = self.text(name, server_text)
        log.info("greet: %s", text)
        if self.screen:
            try:
                with open(self.screen, "a", encoding="utf-8") as out:
                    out.write(text + "\n")
            except OSError as exc:
                log.warning("cannot write the greeting to %s: %s", self.screen, exc)
        if self.speaker:
            subprocess.Popen(
                [self.speaker, text], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        for hook in self.hooks:
            try:
                hook(name, text)
            except Exception:
                log.exception("a greet hook failed")
        return text
