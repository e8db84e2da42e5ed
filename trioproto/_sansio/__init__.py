"""The sans-IO layer: RFC 6455 / RFC 7692 codec and the HTTP/1.1 opening handshake.

Nothing in this package imports trio, socket or ssl (``tests/test_layering.py`` checks it): it
turns bytes into events and calls into bytes, and leaves all I/O to the layers above.
"""
