"""The heart: deciding a call, logging the attempt with its penalty, learning from outcomes."""
