"""Export and generate tests import their workspace builder by its module name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
