"""Adapters for mail: building messages from templates and handing them to an SMTP server."""
