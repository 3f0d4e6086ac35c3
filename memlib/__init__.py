"""memlib: the small library behind the memorization notebook series (see README.md and docs/engine.md)."""
