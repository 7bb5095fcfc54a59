print("xmppd")
