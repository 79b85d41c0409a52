"""Identity resolution: which source records are the same child."""
