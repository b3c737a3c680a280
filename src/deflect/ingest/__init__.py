"""Knowledge in: parse sources, chunk them, embed and write them to the index incrementally."""
