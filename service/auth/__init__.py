"""Authentication (passwords, JWT sessions, API keys) and the role policy."""
