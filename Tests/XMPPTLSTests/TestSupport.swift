// Helpers for the TLS tests (being written).
