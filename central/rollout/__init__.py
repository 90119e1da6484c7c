"""Releases published by central, the staged rollout and station enrolment (issue 16)."""
