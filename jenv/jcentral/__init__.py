"""JCentral: the JSON protocol and JAliEn's token rules (no I/O), and the mutual-TLS WebSocket client."""
