"""Data in: importers, the MPD reader, Spotify and ReccoBeats clients, enrichment, curation."""
