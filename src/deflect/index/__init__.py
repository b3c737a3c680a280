"""Vector index and embedder implementations (Chroma, sentence-transformers)."""
