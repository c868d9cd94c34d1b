"""jenv: ALICE grid (JAliEn) token and certificate helper for the shell."""

__version__ = "0.1.0"
__all__ = ["__version__"]
