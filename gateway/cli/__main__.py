import sys

from gateway.cli import app

sys.exit(app())
