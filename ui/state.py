"""The session-state keys that pages pass to each other, declared once.

A page's own widget keys stay on that page; these are the ones another page or the sidebar reads.
"""
CHECKPOINT = "checkpoint"  # the sidebar's checkpoint picker: the run every page explores
EXPLORE_RUN = "explore_run"  # Train page -> sidebar: select this run at the next rerun
INTERPOLATE_FROM_MAP = "interpolate_from_map"  # Latent map -> Interpolation: (scope, index, index)
