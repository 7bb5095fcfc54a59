// XMPPConfig: filled in by its own files.
