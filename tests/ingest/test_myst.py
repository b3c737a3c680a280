"""MyST (Sphinx's Markdown) read as Markdown: roles are their text, directive fences their content; plain
Markdown is untouched. The fixtures are written here (a made-up `brewctl` tool).
"""

from __future__ import annotations

from pathlib import Path

from deflect.ingest.myst import has_myst, myst_to_markdown
from deflect.ingest.sources import parse_markdown

SIG = "myst-test"

MYST = """\
(brew-guide)=

# Brew guide

(proxy-label)=

## Proxies

Use {option}`--proxy` or {envvar}`BREW_PROXY`, set in {file}`C:\\\\Brew\\\\brew.ini`; see
{ref}`the settings page <settings>`, {ref}`proxy-label`, {doc}`usage`, {pypi}`brewctl` and {pep}`8`.
A role after a word: compatible{sup}`1`.

```{note}
Proxies need brewctl 2.
```

```{warning}
:class: strong

- The pot is hot.
```

```{admonition} Before you start
Read the manual.
```

```{code-block} bash
:caption: proxy.sh

brewctl --proxy http://proxy:3128  pour
```

```{versionadded} 2.1
The `--proxy` option.
```

```{toctree}
:hidden:

usage
```

```{pip-cli}
$ brewctl pour --cups 2
[...]
```

````{tab} Windows
```{code-block} powershell
brewctl.exe pour
```
````

```{frobnicate} arg
Content of an unknown directive stays.
```

```{option} --pot <n>
Which pot to brew into.
```

```{eval-rst}
.. note:: From rst, with :option:`--pot`.
```

Global
: The system-wide file.

User
: * On Linux: {file}`~/.brew`
  * On Windows: {file}`%APPDATA%\\\\brew`

```
{ref}`kept in plain code`
```

Inline code stays: `{ref}` and `` {ref}`x` ``.
"""


def test_roles_read_as_their_text_and_typed_ones_as_code() -> None:
    out = myst_to_markdown(MYST)

    assert "Use `--proxy` or `BREW_PROXY`, set in `C:\\Brew\\brew.ini`; see\n" in out  # Sphinx reads `\\\\` as `\\`
    assert "the settings page, Proxies, usage, brewctl and PEP 8." in out
    assert "A role after a word: compatible1." in out
    assert "{option}" not in out and "{ref}`the" not in out


def test_targets_go_and_admonitions_become_labelled_content() -> None:
    out = myst_to_markdown(MYST)

    assert "(brew-guide)=" not in out and "(proxy-label)=" not in out
    assert "**Note:** Proxies need brewctl 2." in out
    assert "**Warning:**\n\n- The pot is hot." in out and ":class:" not in out
    assert "**Before you start:** Read the manual." in out


def test_a_code_block_directive_is_a_code_block_in_its_language() -> None:
    out = myst_to_markdown(MYST)

    assert "```bash\nbrewctl --proxy http://proxy:3128  pour\n```" in out
    assert ":caption:" not in out
    assert "**Windows:**\n\n```powershell\nbrewctl.exe pour\n```" in out


def test_version_notes_object_descriptions_and_unknown_directives_keep_their_text() -> None:
    out = myst_to_markdown(MYST)

    assert "*New in version 2.1:* The `--proxy` option." in out
    assert "toctree" not in out and "usage\n" not in out
    assert "```console\n$ brewctl pour --cups 2\n[...]\n```" in out
    assert "Content of an unknown directive stays." in out and "frobnicate" not in out
    assert "- **`--pot <n>`**: Which pot to brew into." in out


def test_eval_rst_is_read_as_restructuredtext() -> None:
    out = myst_to_markdown(MYST, rst=lambda text: "RST:" + text.strip())
    doc = parse_markdown(MYST, "manual/proxies.md", SIG)

    assert "RST:.. note:: From rst, with :option:`--pot`." in out
    assert "**Note:** From rst, with `--pot`." in doc.body


def test_definition_lists_become_term_items() -> None:
    out = myst_to_markdown(MYST)

    assert "- **Global**: The system-wide file." in out
    assert "- **User**:\n  * On Linux: `~/.brew`\n  * On Windows: `%APPDATA%\\brew`" in out


COLON = """\
# Brew guide

::::{tab-set}
:::{tab-item} Linux
```bash
brewctl pour
```
:::
:::{note}
Colon fences hold **Markdown**, with {option}`--cups`.
:::
::::

After the tabs.
"""


def test_colon_fences_are_read_like_backtick_fences_nested_ones_included() -> None:
    out = myst_to_markdown(COLON)

    assert "**Linux:**\n\n```bash\nbrewctl pour\n```" in out
    assert "**Note:** Colon fences hold **Markdown**, with `--cups`." in out
    assert ":::" not in out and "tab-set" not in out
    assert out.rstrip().endswith("After the tabs.")


def test_code_keeps_myst_syntax_as_written() -> None:
    out = myst_to_markdown(MYST)

    assert "```\n{ref}`kept in plain code`\n```" in out
    assert "Inline code stays: `{ref}` and `` {ref}`x` ``." in out


def test_the_article_of_a_myst_file_is_titled_and_free_of_markup() -> None:
    doc = parse_markdown(MYST, "manual/proxies.md", SIG)

    assert doc.title == "Brew guide"
    assert "{note}" not in doc.body and "{option}" not in doc.body


PLAIN = """\
# Kettle guide

Use `kettle --boil` (see [the manual](https://kettle.example/)).

```python
print("{name}")
```

Term
: looks like a definition, but this file has no MyST syntax.

(not a target)= but text.

Code that looks like a role stays code: `&{number}` (e.g. `&1.0`).

```markdown
(in-a-fence)=
```{note}
```
"""


def test_plain_markdown_is_unchanged() -> None:
    assert not has_myst(PLAIN)
    assert myst_to_markdown(PLAIN) == PLAIN


def test_the_sample_kb_has_no_myst_and_parses_as_before() -> None:
    kb = Path(__file__).resolve().parents[2] / "kb"
    files = sorted(kb.rglob("*.md"))

    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert myst_to_markdown(text) == text, path
