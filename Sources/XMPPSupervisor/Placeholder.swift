// XMPPSupervisor: filled in by its own files.
