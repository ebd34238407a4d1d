"""The Million Playlist Dataset: parallel slice parsing, resumable ingest, generated slices."""
