"""Orders of docs/contract.md §1: validation, the local cache, fetching over HTTP."""
