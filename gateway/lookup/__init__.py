"""Finding a child in the index and answering with what may be shared."""
