"""What every test directory shares: one launcher, one PKI builder, one running service, fault servers.

- :mod:`support.launcher`: run jenv (in-process, as a process, on a pseudo-terminal);
  every way scans what jenv printed for private-key material.
- :mod:`support.pki`: a trustme-shaped test PKI built with cryptography (and openssl where
  cryptography refuses, e.g. a serial-0 CA shaped like AliEn2-CA).
- :mod:`support.service`: the registered users, the service's CA, and the local service
  running on 127.0.0.1 (real TLS, real tokens).
- :mod:`support.faultservers`: misbehaving JCentral servers.
"""
