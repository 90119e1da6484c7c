"""Orders of CONTRACT.md §1: validation, the local cache, fetching over HTTP."""
