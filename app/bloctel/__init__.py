"""BLOCTEL in the gateway: versions in the database, the import, the look-up and the routes.

The check path only sees ``app.bloctel.lookup.BloctelLookup``; the storage behind it can change
without touching the rules. Parsing and the in-memory list are the pure ``bloctel`` library.
"""
