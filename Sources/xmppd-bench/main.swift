print("xmppd-bench: being written")
