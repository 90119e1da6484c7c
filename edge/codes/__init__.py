"""Parsing what a camera or scanner read into typed results (``edge.codes.parse``).

The package itself imports nothing: its config (``edge.codes.config``) is read by every
CLI command, while the parsers pull in biip's GS1 tables and JSON Schema (about 0.7 s
of start-up), which only the processes that read codes need.
"""
