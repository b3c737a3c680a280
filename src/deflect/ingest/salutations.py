"""The substance of an agent's reply: its greeting and sign-off taken off before it becomes knowledge.

A resolution is usually the reply an agent sent ("Hello Peter, use --exclude-caches ... Best, Sven"), scrubbed of
personal data. Quoted to the next customer, or pasted by the next agent, the greeting and sign-off are someone
else's letter: "Hello [NAME], ... Best, [NAME]" reached a customer's reply box through the panel's Use. What is
taken off: a greeting that opens the text (its own line, or "Hi Ingrid!" before the first sentence), and at the end
a sign-off ("Best,", "Kind regards", "Cheers, Mark") with the name, title or company lines under it, a `--`
signature, and closing pleasantries ("Hope this helps!", "Let me know if you have any other questions."). Nothing
else: text that is only a greeting and a sign-off is kept whole, since an empty resolution would say nothing.
"""

from __future__ import annotations

import re

# A greeting and up to three words of whom it greets: a name, "there", "team", a scrubbed [NAME].
_WHO = r"(?:[ \t]+(?:\[NAME\]|[A-Z][\w'’.-]*|there|all|everyone|team|folks|customer|sir|madam))"
_GREETING = re.compile(
    r"\A\s*(?:(?:Hi|Hello|Hey|Hiya|Dear|Greetings|Good (?:morning|afternoon|evening))"
    rf"{_WHO}{{0,3}}[ \t]*(?:[,!.:][ \t]*(?:\r?\n\s*|(?=\S))|\r?\n\s*)"
    # The customer addressed by name alone, scrubbed: "[NAME], prune rules are applied ...".
    r"|\[NAME\][ \t]*[,!:][ \t]*)"
)
_SIGN_OFF = (
    r"(?:Best(?: regards| wishes)?|Kind regards|Warm regards|Regards|Many thanks|Thanks(?: again| a lot)?"
    r"|Thank you|Cheers|Sincerely|Yours(?: sincerely| truly)?|All the best|Take care)"
)
# A sign-off on a line of its own, with the few short lines under it (name, title, company, a scrubbed contact).
_SIGN_OFF_BLOCK = re.compile(rf"(?:\A|\n)[ \t]*{_SIGN_OFF}[ \t]*[,!.]?[ \t]*(?:\n[^\n]{{0,80}}){{0,4}}\s*\Z", re.I)
# A sign-off closing the last line of text: "... then it works. Cheers, Mark" / "Thanks, [NAME]".
_INLINE_SIGN_OFF = re.compile(rf"(?<=[.!?)\]`])[ \t]+{_SIGN_OFF}[ \t]*[,!.]?{_WHO}{{0,3}}[ \t]*[.!]?\s*\Z", re.I)
# A signature: "-- Sven", "— [NAME], [EMAIL]" and whatever short lines follow it.
_SIGNATURE = re.compile(r"(?:\A|\n)[ \t]*(?:--|—|–)[ \t]*\S[^\n]{0,100}(?:\n[^\n]{0,80}){0,4}\s*\Z")
_PLEASANTRY = re.compile(
    r"(?:\A|(?<=[.!?\n]))[ \t]*(?:I )?(?:hope (?:this|that) helps|let (?:me|us) know if (?:you|there)[^.!?\n]*"
    r"|feel free to (?:reach out|contact us|get in touch)[^.!?\n]*|have a (?:great|nice|good|lovely) (?:day|week"
    r"|weekend)|(?:please )?do(?:n't| not) hesitate to (?:reach out|contact us|get in touch)[^.!?\n]*)[.!]*\s*\Z",
    re.I,
)


def substance(text: str) -> str:
    """`text` without the greeting that opens it and the sign-off, signature and pleasantries that close it."""
    body = _GREETING.sub("", text, count=1)
    while True:
        trimmed = body
        for pattern in (_SIGNATURE, _SIGN_OFF_BLOCK, _INLINE_SIGN_OFF, _PLEASANTRY):
            trimmed = pattern.sub("", trimmed, count=1).rstrip()
        if trimmed == body:
            break
        body = trimmed
    body = body.strip()
    return body if body else text.strip()
