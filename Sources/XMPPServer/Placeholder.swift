// XMPPServer: filled in by its own files.
