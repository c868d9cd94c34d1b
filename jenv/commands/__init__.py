"""Command handlers: each docstring is that command's docopt usage text."""
