"""The composition root: app factory, lifespan, auth, HTTP routes, CLI."""

import sys
from pathlib import Path

# Top-level packages added after a checkout's editable install was made (payments/,
# notifications/, device_bridge/) are missing from its static import map; the repo
# root on the path keeps `linli` and the bench servers working without a reinstall.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
