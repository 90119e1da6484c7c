"""Demo and test tooling, outside the runtime packages: the demo system, private brokers, test PKI."""
