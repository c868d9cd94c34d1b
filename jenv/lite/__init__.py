"""Standard library only: what the login fast path reads (the token's dates and public key, names). No trust decision is made here."""
