print("xmppctl")
