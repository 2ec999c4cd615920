"""The MiniGo edge agent: runs on a Raspberry Pi at a gate or shelf. Never imports Django."""

__version__ = "0.1.0"
