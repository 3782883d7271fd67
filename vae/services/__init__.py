"""What the app builds on the library: background training jobs, the checkpoints folder (runs.py),
the map through training (film.py) and the files the browser reads (export.py)."""
