// XMPPTransport: zlib, PROXY protocol and shaper handlers (files being written).
