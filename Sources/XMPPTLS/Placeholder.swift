// XMPPTLS: TLS for NIO pipelines on the system OpenSSL (files being written).
