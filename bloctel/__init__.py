"""BLOCTEL, the national opposition list, as a pure library: parse a file (``parse``) and read
a whole one into sorted unique keys (``read``), map numbers to their E.164 keys (``plan``) and
hold the list in memory (``index``).

It imports nothing of the app; storing, importing and looking up the list live in
``app.bloctel``.
"""
