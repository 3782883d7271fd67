"""`python -m vae`: the command line (vae/cli.py)."""
import sys

from vae.cli import main
from vae.training.step import flush_denormals

flush_denormals()  # this process's floating-point mode, set before any tensor work (see there)
sys.exit(main())
