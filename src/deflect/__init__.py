"""deflect: answer support questions from the knowledge base with citations, or escalate well."""

__version__ = "0.1.0"
