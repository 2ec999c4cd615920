"""MiniGo vision: plain functions over numpy arrays. Never imports Django."""
