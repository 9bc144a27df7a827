"""xmpp-sic's test kit: private Prosody and ejabberd servers on loopback, raw
XMPP clients (TCP, STARTTLS, direct TLS, WebSocket, BOSH), free ports,
processes stopped by PID, CPU accounting, log checks, and the library's raw
entry point through ctypes. One copy for every host; see README.md."""
