"""Acceptance video: clip recorder, captions, retention, and the clips the hall plays."""
