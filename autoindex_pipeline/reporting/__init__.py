"""Rendering only: Jinja2 HTML templates (``templates/``, one shared base and stylesheet) and
one matplotlib set-up (:mod:`.charts`). Reports get their figures from ``domain`` / ``services``
and turn them into pages; nothing here computes a figure."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jinja2


class Cell(NamedTuple):
    """One table cell for ``macros.html.j2``: its text, CSS class and, for a symbol, the colour
    of the status dot before it."""

    text: str
    cls: str = ""
    dot: str = ""


@functools.cache
def _environment() -> jinja2.Environment:
    # Autoescape everything: symbols, check descriptions and strategy names are data, and a
    # "<" in any of them must not become markup. PackageLoader reads the installed package
    # data, so the templates ship with the wheel.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("autoindex_pipeline.reporting", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``context``."""
    return _environment().get_template(name).render(**context)
