// XMPPSASL: filled in by its own files.
