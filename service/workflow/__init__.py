"""The review workflow: a pure state machine and the DB operations that apply its events."""
