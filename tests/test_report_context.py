"""The report template uses exactly its documented context, as the questionnaire's does."""

from __future__ import annotations

import re

import pydantic
import pytest
from jinja2 import meta

from delphi.core.report import ReportData
from delphi.render.report import TEMPLATE, ReportContext
from delphi.render.templates import environment

GLOBALS = {"fmt", "pct"}  # the environment's formatters


def _source() -> str:
    env = environment(None)
    assert env.loader is not None
    return env.loader.get_source(env, TEMPLATE)[0]


def test_report_template_uses_every_context_field_and_no_other_name() -> None:
    env = environment(None)
    assert GLOBALS <= set(env.globals)
    used = meta.find_undeclared_variables(env.parse(_source()))  # leaves out env.globals
    assert used == set(ReportContext.model_fields)


def test_report_template_reads_only_report_data_fields() -> None:
    used = set(re.findall(r"\bd\.(\w+)", _source()))
    assert used, "the template shows nothing from d?"
    assert used <= set(ReportData.model_fields), used - set(ReportData.model_fields)


def test_report_context_refuses_an_undocumented_key() -> None:
    fields = dict.fromkeys(ReportContext.model_fields)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        ReportContext.model_validate({**fields, "secret": 1})
