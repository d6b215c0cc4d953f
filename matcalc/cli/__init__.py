"""cli"""

from .app import main

__all__ = ["main"]
