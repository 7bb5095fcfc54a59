// xmppd-bench: load generator for a running xmppd (see BenchCommand.swift, scripts/bench).
BenchCommand.main()
