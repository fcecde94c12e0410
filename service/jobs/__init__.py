"""Drafting jobs: a queue in the database, a worker loop, and the drafter interface the worker calls."""
