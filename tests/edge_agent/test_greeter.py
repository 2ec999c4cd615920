from __future__ import annotations

import io

from edge_agent.greeter import Greeter, greeting_text


def test_a_greet_is_shown_and_spoken():
    screen, spoken = io.StringIO(), []
    greeter = Greeter(screen=screen, command=["say-it"], runner=spoken.append)
    msg = {"type": "greet", "v": 1, "name": "Kit", "visit": 3, "kind": "entry"}
    assert greeter.handle(msg) == "Welcome, Kit!"
    assert screen.getvalue().rstrip().endswith("Welcome, Kit!")
    assert spoken == [["say-it", "Welcome, Kit!"]]


def test_the_servers_text_wins_and_control_characters_never_reach_the_screen():
    assert greeting_text({"type": "greet", "name": "Kit", "text": "Goodbye, Kit! 3.00"}) == (
        "Goodbye, Kit! 3.00"
    )
    assert greeting_text({"type": "greet", "name": "K\x1b[2Jit", "kind": "exit"}) == (
        "Goodbye, K[2Jit!"
    )


def test_other_messages_are_ignored_and_a_broken_speaker_does_not_raise(tmp_path):
    def broken(argv):
        raise OSError("no audio device")

    screen = tmp_path / "screen.txt"
    greeter = Greeter.from_config({"screen": str(screen), "command": "say-it --fast"})
    greeter._run = broken
    assert greeter.handle({"type": "ack", "event_id": "e1"}) is None
    assert greeter.handle({"type": "greet", "name": "Ana"}) == "Welcome, Ana!"
    assert "Welcome, Ana!" in screen.read_text()


def test_without_a_tts_program_it_only_shows(monkeypatch):
    monkeypatch.setattr("edge_agent.greeter.shutil.which", lambda name: None)
    greeter = Greeter(screen=io.StringIO())
    assert not greeter.speaks
    assert greeter.handle({"type": "greet", "name": "Kit"}) == "Welcome, Kit!"
