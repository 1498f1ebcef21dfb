import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never touch the user's home or the project's real Dagster history.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
