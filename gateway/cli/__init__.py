"""``ehe-gateway``: the gateway's command line (runs every stage without Airflow, too).

One module per group of commands; importing it adds its commands to ``app``.
"""

from gateway.cli import linkage, pipeline, quarantine, review, serve
from gateway.cli.app import app

__all__ = ["app", "linkage", "pipeline", "quarantine", "review", "serve"]
