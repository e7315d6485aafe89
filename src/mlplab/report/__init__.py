"""Reports: the claims ledger as a self-contained HTML page, ``claims.json`` and ``SUMMARY.md``."""

from mlplab.report.ledger import (
    load_claims_json,
    render_html,
    render_markdown,
    write_report,
)

__all__ = ["write_report", "render_html", "render_markdown", "load_claims_json"]
