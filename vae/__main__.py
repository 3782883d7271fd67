"""`python -m vae`: the command line (vae/cli.py)."""
import sys

from vae.cli import main

sys.exit(main())
