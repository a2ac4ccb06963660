"""LLUMI: community-feedback writing assistance for peer supporters, with a safety layer."""

__version__ = "0.1.0"
