"""trioconf: Trio-native configuration hot reload."""
