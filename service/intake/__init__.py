"""The one door into the study store: every inbound adapter (HTTP upload, STOW-RS, C-STORE, CLI ingest)."""
