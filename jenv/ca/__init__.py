"""CA certificates: the store, verification through OpenSSL's path validation, bundle download and install."""
