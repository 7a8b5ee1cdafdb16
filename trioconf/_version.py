"""trioconf's version, in this one place: setuptools reads it (without importing the package)
into the distribution's metadata, ``trioconf.__version__`` re-exports it, and ``trioconf
--version`` and the docs print it."""

__version__ = "0.1.0"
