"""What Sphinx's roles and directives mean to a reader, shared by the reStructuredText (rst.py) and MyST (myst.py)
readers: docutils and CommonMark know none of them, and a customer must see neither their markup nor lose their
text.

- A role is its text: `:ref:`Proxies <proxy>`` reads "Proxies", `:func:`~pkg.mod.run`` reads "run"; the roles that
  name something typed (an option, a command, a file, an environment variable, a key, a Python object) are code.
- A directive is one of: code (`code-block` with its language), an admonition (a label and its content), a version
  note (a short paragraph), an object description (its signature as a term, its content as the description), a
  wrapper (tabs, `only`, `container`: content kept, a tab's title as a label), dropped (it names files or builds
  navigation: `toctree`, `literalinclude`, `include`, `index`...), or unknown: its content kept as body text.
"""

from __future__ import annotations

import re
from typing import Literal

DirectiveKind = Literal["code", "admonition", "version", "object", "wrapper", "dropped", "content"]

# Roles shown as code, the way Sphinx renders them (<code>/<kbd>), so keyword search and readers get them exact.
CODE_ROLES = frozenset(
    {
        "option",
        "command",
        "file",
        "envvar",
        "samp",
        "kbd",
        "makevar",
        "mailheader",
        "regexp",
        "code",
        "literal",
        # Python and other domains' objects
        "func",
        "meth",
        "class",
        "mod",
        "attr",
        "data",
        "exc",
        "obj",
        "const",
        "type",
        "member",
        "macro",
        "var",
        "struct",
        "enum",
        "enumerator",
        "expr",
        "texpr",
        "confval",
        "dir",
        "directive",
        "role",
    }
)

# Roles whose text is shown as written: no `Title <target>`, `!` or `~` (a `~/.config` file is in a home folder).
LITERAL_ROLES = frozenset(
    {"file", "samp", "kbd", "command", "program", "makevar", "mailheader", "regexp", "code", "literal", "abbr"}
    | {"guilabel", "menuselection", "dfn", "sup", "sub", "math", "pep", "rfc"}
)

ADMONITIONS = {
    "note": "Note",
    "warning": "Warning",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "todo": "To do",
}

VERSION_LABELS = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "versionremoved": "Removed in version",
}

CODE_DIRECTIVES = frozenset({"code-block", "sourcecode", "code", "code-cell"})

# Object descriptions (Sphinx domains): `.. option:: -v, --verbose`, `.. py:function:: run(args)`.
OBJECT_DIRECTIVES = frozenset(
    {
        "option",
        "cmdoption",
        "describe",
        "object",
        "envvar",
        "confval",
        "function",
        "class",
        "method",
        "classmethod",
        "staticmethod",
        "attribute",
        "property",
        "data",
        "exception",
        "decorator",
        "decoratormethod",
        "type",
        "var",
        "macro",
        "member",
        "struct",
        "union",
        "enum",
        "enumerator",
        "concept",
        "directive",
        "role",
    }
)

# Wrappers whose argument is a title a reader needs (the tab that says which system a command is for).
TITLED_WRAPPERS = frozenset({"tab", "tab-item", "group-tab", "dropdown", "card", "grid-item-card"})
WRAPPERS = TITLED_WRAPPERS | {
    "tab-set",
    "tabs",
    "only",
    "ifconfig",
    "container",
    "grid",
    "grid-item",
    "hlist",
    "glossary",
    "div",
}

DROPPED_DIRECTIVES = frozenset(
    {
        "toctree",
        "literalinclude",
        "include",
        "raw",
        "index",
        "highlight",
        "sectionauthor",
        "moduleauthor",
        "codeauthor",
        "module",
        "currentmodule",
        "program",
        "default-domain",
        "tabularcolumns",
        "todolist",
        "autosummary",
        "rst-class",
        "cssclass",
        "meta",
        "image",
        "figure",
    }
)

_EXPLICIT_TITLE = re.compile(r"^(.+?)\s*<([^<>]+)>$", re.S)
# A directive's content that is a shell or interpreter session is kept verbatim (pip's `pip-cli` blocks).
_SESSION_LINE = re.compile(r"^(?:\$|>>>|C:\\>|PS>) ")


def local_name(name: str) -> str:
    """`py:function` -> "function", `std:option` -> "option": the domain does not change what a reader sees."""
    return name.lower().rsplit(":", 1)[-1]


def role_text(name: str, text: str) -> tuple[str, bool]:
    """What a role shows and whether it is code: the explicit title of `Title <target>`, else the target, without
    Sphinx's `!` (no link) and with `~` keeping the last dotted part, as Sphinx renders them."""
    role = local_name(name)
    text = " ".join(text.split())
    explicit = _EXPLICIT_TITLE.match(text) if role not in LITERAL_ROLES else None
    if explicit:
        text = explicit.group(1)
    elif role not in LITERAL_ROLES:
        text = text.removeprefix("!")
        if text.startswith("~"):
            text = text[1:].rsplit(".", 1)[-1]
    if role in {"pep", "pep-reference"} and not explicit:
        text = f"PEP {text}"
    elif role in {"rfc", "rfc-reference"} and not explicit:
        text = f"RFC {text}"
    elif role == "guilabel":
        text = text.replace("&&", "\x00").replace("&", "").replace("\x00", "&")
    elif role == "menuselection":
        text = text.replace("-->", "\u2023")
    return text, role in CODE_ROLES


def directive_kind(name: str) -> DirectiveKind:
    """How a directive's content reaches the text (see the module docstring)."""
    full = name.lower()
    role = local_name(full)
    if full in CODE_DIRECTIVES:
        return "code"
    if full in ADMONITIONS or full == "admonition":
        return "admonition"
    if full in VERSION_LABELS:
        return "version"
    if full in WRAPPERS:
        return "wrapper"
    if full in DROPPED_DIRECTIVES or role in {"module", "currentmodule"}:
        return "dropped"
    if role in OBJECT_DIRECTIVES:
        return "object"
    return "content"


def version_label(name: str, version: str) -> str:
    """`versionadded`, "2.5" -> "New in version 2.5"."""
    return f"{VERSION_LABELS[name.lower()]} {version}".strip()


def is_session(lines: list[str]) -> bool:
    """Content whose first line is a prompt (`$ `, `>>> `): a shell or interpreter session, kept verbatim."""
    first = next((line.strip() for line in lines if line.strip()), "")
    return bool(_SESSION_LINE.match(first))
