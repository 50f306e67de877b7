"""``forge report``: a run as one self-contained static HTML page (torch-free).

``gather`` reads a run from the registry (``data``), the section builders turn it into
charts and tables (``sections``, ``outcome``, ``prefixed``; charts by matplotlib as
inline SVG), and ``write_report`` renders ``templates/report.html.j2`` with jinja2
(autoescape on: every string from the registry is escaped). See docs/report.md.
"""

from runtime.report.data import RunData, Series, gather
from runtime.report.html import build_sections, render, write_report

__all__ = ["RunData", "Series", "build_sections", "gather", "render", "write_report"]
