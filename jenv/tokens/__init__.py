"""The token pair on disk (check, lock, atomic write, recovery) and the check of what JCentral returned."""
