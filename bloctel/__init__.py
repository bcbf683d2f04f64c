"""BLOCTEL, the national opposition list: import and lookup.

The check path only sees ``bloctel.lookup.BloctelLookup``; the storage behind it can change
(issue 3 replaces the database lookup with an in-process index) without touching the rules.
"""
