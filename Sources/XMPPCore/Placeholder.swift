// XMPPCore: filled in by its own files.
