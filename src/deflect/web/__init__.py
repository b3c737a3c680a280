"""Where people meet deflect: the agent side panel and the customer help widget, served by deflect itself."""

from deflect.web.routes import install_web

__all__ = ["install_web"]
