"""One parser per file format: bytes in, raw metadata and blocks out.

Each module is the only one that imports its parsing library.
"""
