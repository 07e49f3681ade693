"""Adapters that turn core data into documents: questionnaire HTML and PDF."""
