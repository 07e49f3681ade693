"""Adapter: answering on the web (``delphi serve``), an ASGI application over the actions."""
