"""Table definitions (placeholder: the owner defines the tables and fills in the matching migration)."""
