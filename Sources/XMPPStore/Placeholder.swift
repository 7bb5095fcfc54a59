// XMPPStore: filled in by its own files.
