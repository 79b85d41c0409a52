"""What state a batch is in, and which states a run of its source leaves alone.

landed -> staged -> loaded, or -> gated (held whole, with its reasons, until a person releases
it; a later good full snapshot of the same source supersedes it). A stage that raised leaves the
batch failed, and the next run tries it again.
"""

from __future__ import annotations

LANDED = "landed"
STAGED = "staged"
LOADED = "loaded"
GATED = "gated"
SUPERSEDED = "superseded"
FAILED = "failed"
# A run of the source does not pick these up again: loaded, or held whole for a person.
SETTLED = (LOADED, GATED, SUPERSEDED)
# Held whole: every record of the batch is counted as gated.
HELD_WHOLE = (GATED, SUPERSEDED)
