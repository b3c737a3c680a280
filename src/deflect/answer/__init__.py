"""Answer generation (extractive by default, Ollama optional) and confidence."""
