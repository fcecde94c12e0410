"""Studies as the service sees them: visibility, the worklist query, upload, frames."""
